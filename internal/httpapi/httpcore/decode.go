package httpcore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Decode reads one JSON value from the request body into v, refusing unknown
// fields. Every failure is an *Error: unknown field, wrong type (both naming the
// field), malformed JSON (with the byte offset), empty body and trailing data are
// invalid (422); a body over the limit is too_large (413).
func Decode(r *http.Request, v any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return FieldErr(errcode.InvalidInput, "", "request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// Anything but whitespace after the value is a client bug worth reporting.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return tooLarge(mb.Limit)
		}
		return FieldErr(errcode.InvalidInput, "", fmt.Sprintf("unexpected data after the JSON value at byte %d", dec.InputOffset()))
	}
	return nil
}

// DecodeValue decodes the JSON value b (a part of a body the handler took apart)
// into v as Decode reads a body: unknown fields refused, every failure an *Error
// whose field is a JSON pointer under at (the value's place in the body).
func DecodeValue(b []byte, v any, at string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := decodeError(err)
		for i := range e.Errors {
			f := e.Errors[i].Field
			if f != "" && f[0] != '/' {
				f = "/" + f
			}
			e.Errors[i].Field = at + f
		}
		return e
	}
	return nil
}

func decodeError(err error) *Error {
	var mb *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mb):
		return tooLarge(mb.Limit)
	case errors.Is(err, io.EOF):
		return FieldErr(errcode.InvalidInput, "", "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FieldErr(errcode.InvalidInput, "", "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &se):
		return FieldErr(errcode.InvalidInput, "", fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")))
	case errors.As(err, &te):
		if te.Field == "" {
			return FieldErr(errcode.InvalidInput, "", fmt.Sprintf("the body must be a JSON %s, not %s", te.Type, te.Value))
		}
		field := jsonField(te.Field)
		return FieldErr(errcode.InvalidInput, Pointer(field), fmt.Sprintf("%s must be %s, not %s", field, jsonKind(te.Type.String()), te.Value))
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return FieldErr(errcode.InvalidInput, name, fmt.Sprintf("unknown field %q", name))
	}
	return FieldErr(errcode.InvalidInput, "", "malformed JSON: "+strings.TrimPrefix(err.Error(), "json: "))
}

// jsonField drops the Go names of embedded structs that encoding/json puts in a
// field path ("Config.max_tokens"); chatter's JSON names are all snake_case, so a
// capitalised segment is never a JSON key.
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// Pointer turns encoding/json's dotted field path ("input_data.message") into a
// JSON pointer ("/input_data/message").
func Pointer(dotted string) string {
	var b bytes.Buffer
	for _, part := range strings.Split(dotted, ".") {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(part))
	}
	return b.String()
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"):
		return "an object"
	case strings.HasPrefix(goType, "*"):
		return jsonKind(goType[1:])
	}
	return "an object" // named struct types
}
