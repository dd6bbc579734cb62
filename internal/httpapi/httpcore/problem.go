// Package httpcore is the part of chatter's HTTP layer that needs no storage: the
// Router and its middleware chain (request id, access log, recover, CORS, body
// limit, auth, rate limits), RFC 9457 problem responses with stable codes, and the
// API Gateway authenticator. It imports no store (and so neither workflow nor
// expr), which keeps the health function near a bare Lambda; package httpapi
// builds on it (store errors, Idempotency-Key, pages) and re-exports it, so
// handlers name everything httpapi.X.
package httpcore

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// FieldError is one problem with one request field (the wire shape).
type FieldError = wire.FieldError

// Problem is an RFC 9457 problem details body (the wire shape).
type Problem = wire.Problem

// ProblemTypePrefix prefixes the code to form a problem's type URI.
const ProblemTypePrefix = wire.ProblemTypePrefix

// Error is an error with a stable code that handlers return; Fail turns it into a
// problem response. Message is shown to clients unless the code is internal.
type Error struct {
	Code    string
	Message string
	Errors  []FieldError
	// ExecutionID and ConversationID name a run that was started and failed.
	ExecutionID    string
	ConversationID string
	// Header is added to the response (e.g. WWW-Authenticate, Retry-After).
	Header http.Header
	Err    error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// FieldErr builds an *Error with one field problem naming field.
func FieldErr(code, field, message string) *Error {
	return &Error{Code: code, Message: message, Errors: []FieldError{{Field: field, Code: code, Message: message}}}
}

// AsError classifies any error as an *Error: an *Error as is, a body over the
// limit as too_large, anything else as internal. httpapi.AsError adds store errors
// by their code.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(mb.Limit)
	}
	return &Error{Code: errcode.Internal, Err: err}
}

func tooLarge(limit int64) *Error {
	return &Error{Code: errcode.TooLarge, Message: "request body is larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

// Fail writes err as a problem response. Internal errors (internal, storage_error,
// unavailable, anything unclassified) are logged in full with the request id, and
// the client sees only the generic title; other errors are not logged here (the
// access log has their status).
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	if errcode.Of(e.Code).Internal {
		Logger(r.Context()).Error("request failed", "code", e.Code, "err", err)
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeError(w, r, problemFor(r, e))
}

// ErrorWriter writes an error answer built as problem p: WriteProblem, or another
// shape for routes that speak another API's errors (ErrorsAs).
type ErrorWriter func(w http.ResponseWriter, p *Problem)

// writeError writes p as the route answers errors.
func writeError(w http.ResponseWriter, r *http.Request, p *Problem) {
	if ri := reqInfo(r.Context()); ri != nil && ri.errors != nil {
		ri.errors(w, p)
		return
	}
	WriteProblem(w, p)
}

// ProblemOf is the problem body Fail writes for err, for a handler that must
// write it in another shape or place (an error frame of a stream that started).
func ProblemOf(r *http.Request, err error) *Problem { return problemFor(r, AsError(err)) }

// problemFor builds the body of e; internal errors show only the generic title.
func problemFor(r *http.Request, e *Error) *Problem {
	code := e.Code
	if !errcode.Known(code) {
		code = errcode.Internal
	}
	ci := errcode.Of(code)
	p := &Problem{Type: ProblemTypePrefix + code, Title: ci.Title, Status: ci.Status, Code: code,
		Instance: r.URL.Path, RequestID: RequestID(r.Context()), ExecutionID: e.ExecutionID,
		ConversationID: e.ConversationID}
	if ci.Internal {
		p.Detail = "an internal error occurred; quote the request id when reporting it"
	} else {
		p.Detail, p.Errors = e.Message, e.Errors
	}
	return p
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	b, err := json.Marshal(p)
	if err != nil { // a Problem is plain strings and ints
		b = []byte(`{"type":"` + ProblemTypePrefix + `internal","title":"Internal error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Fail(w, r, &Error{Code: errcode.Internal, Err: err})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Logger returns the request's logger: the configured one with the request id.
func Logger(ctx context.Context) *slog.Logger {
	if ri := reqInfo(ctx); ri != nil && ri.log != nil {
		return ri.log
	}
	return slog.Default()
}
