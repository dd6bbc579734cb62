// Package extract turns an uploaded file into plain text for chunking.
//
// Supported types (Type, named as the predecessor's document_type): plain text
// (also CSV, JSON and XML, kept as they are), Markdown (text kept; heading, list,
// quote, table and emphasis markup, link targets, images' URLs, fences and front
// matter dropped), HTML (the text of <title> and <body>; script, style, noscript,
// template, svg and similar skipped; block elements end lines) and PDF (the text
// layer, page by page, with github.com/ledongthuc/pdf, a maintained fork of
// rsc.io/pdf with no dependencies; "%PDF-2.x" files are read as 1.7, which that
// library refuses by header although their structure is the same).
//
// The type is decided by the content type when it is a specific one (not empty,
// application/octet-stream or binary/octet-stream), else by the file name's
// extension, else by sniffing the bytes (net/http.DetectContentType). Detect does
// this alone, so an upload can be refused (415) before it is stored.
//
// Errors are *Error values matched with errors.Is against ErrUnsupported (the API
// answers 415), ErrCorrupt (the file cannot be read: malformed, encrypted, binary
// data posing as text, or it took longer than MaxDuration; ingest ends failed with
// the reason and does not retry), ErrNoText (nothing to index, e.g. a scanned PDF
// without a text layer) and ErrTooLarge (more than MaxTextBytes of text; extraction
// stops there rather than keeping a partial text). The caller's context is honoured:
// its end returns its error, which is not a verdict on the file.
//
// The text is normalised the same way for every type: line ends become \n, control
// characters go, runs of spaces and tabs become one space, lines are trimmed and
// there is at most one blank line in a row. Invalid UTF-8 in text types is read as
// Latin-1; a UTF-8 byte order mark is dropped and UTF-16 (with a byte order mark) is
// decoded.
package extract

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Type is a supported document type.
type Type string

// The supported types.
const (
	Text     Type = "text"
	Markdown Type = "markdown"
	HTML     Type = "html"
	PDF      Type = "pdf"
)

// Bounds of one extraction.
const (
	// MaxTextBytes is the most text one document yields: about 2,000 pages of prose,
	// some 5,000 chunks at the default chunk size.
	MaxTextBytes = 4 << 20
	// MaxDuration bounds the work on one file whatever the caller's deadline; a file
	// that takes longer is treated as corrupt, so it is not tried again.
	MaxDuration = 60 * time.Second
	// MaxPDFPages is the most pages read from one PDF.
	MaxPDFPages = 5000
)

// Error kinds, matched with errors.Is.
var (
	ErrUnsupported = errors.New("unsupported document type")
	ErrCorrupt     = errors.New("unreadable document")
	ErrNoText      = errors.New("no extractable text")
	ErrTooLarge    = errors.New("document text too large")
)

// Error is an extraction failure of one file.
type Error struct {
	Kind     error  // ErrUnsupported, ErrCorrupt, ErrNoText or ErrTooLarge
	Filename string // as given
	Type     string // the detected Type, or the content type that was refused
	Reason   string // for people: what is wrong with the file
	Err      error  // the underlying error, if any
}

func (e *Error) Error() string {
	s := "extract " + e.Filename + ": " + e.Kind.Error()
	if e.Type != "" {
		s += " (" + e.Type + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *Error) Is(target error) bool { return target == e.Kind }
func (e *Error) Unwrap() error        { return e.Err }

var contentTypes = map[string]Type{
	"text/plain":                Text,
	"text/csv":                  Text,
	"text/tab-separated-values": Text,
	"application/json":          Text,
	"text/xml":                  Text,
	"application/xml":           Text,
	"text/markdown":             Markdown,
	"text/x-markdown":           Markdown,
	"text/html":                 HTML,
	"application/xhtml+xml":     HTML,
	"application/pdf":           PDF,
	"application/x-pdf":         PDF,
}

var extensions = map[string]Type{
	".txt": Text, ".text": Text, ".log": Text, ".csv": Text, ".tsv": Text, ".json": Text, ".xml": Text,
	".md": Markdown, ".markdown": Markdown, ".mdown": Markdown, ".mkd": Markdown,
	".html": HTML, ".htm": HTML, ".xhtml": HTML,
	".pdf": PDF,
}

// generic content types say nothing about the file: detection goes on by name.
var generic = map[string]bool{"": true, "application/octet-stream": true, "binary/octet-stream": true, "application/binary": true}

// Detect decides a file's Type (see the package comment); an *Error of kind
// ErrUnsupported if it is none of them.
func Detect(filename, contentType string, data []byte) (Type, error) {
	mt := strings.ToLower(strings.TrimSpace(contentType))
	if parsed, _, err := mime.ParseMediaType(mt); err == nil {
		mt = parsed
	}
	if !generic[mt] {
		if t, ok := contentTypes[mt]; ok {
			return t, nil
		}
		return "", &Error{Kind: ErrUnsupported, Filename: filename, Type: mt, Reason: "supported: text, Markdown, HTML and PDF"}
	}
	if t, ok := extensions[strings.ToLower(path.Ext(filename))]; ok {
		return t, nil
	}
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if t, ok := contentTypes[sniffed]; ok {
		return t, nil
	}
	return "", &Error{Kind: ErrUnsupported, Filename: filename, Type: sniffed, Reason: "supported: text, Markdown, HTML and PDF"}
}

// Extract returns the text of a file (see the package comment).
func Extract(ctx context.Context, filename, contentType string, data []byte) (string, error) {
	return extract(ctx, filename, contentType, data, MaxTextBytes, MaxDuration)
}

func extract(ctx context.Context, filename, contentType string, data []byte, maxText int, budget time.Duration) (string, error) {
	t, err := Detect(filename, contentType, data)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("extract %s: %w", filename, err)
	}
	bctx, cancel := context.WithTimeout(ctx, budget) // while ctx lives, bctx ends only by the budget
	defer cancel()

	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The parsers may panic on hostile input; a panic is a corrupt file. The work
		// runs beside the select below so that a parser stuck inside one step cannot
		// hold the caller past its deadline.
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: &Error{Kind: ErrCorrupt, Filename: filename, Type: string(t), Reason: fmt.Sprint("malformed: ", p)}}
			}
		}()
		out := &limited{max: maxText}
		var err error
		switch t {
		case PDF:
			err = pdfText(bctx, data, out)
		case HTML:
			err = htmlText(bctx, decodeText(data), out)
		case Markdown:
			err = markdownText(bctx, decodeText(data), out)
		default:
			var s string
			if s, err = plainText(data); err == nil {
				err = out.WriteString(s)
			}
		}
		done <- result{text: out.String(), err: err}
	}()

	var r result
	select {
	case r = <-done:
	case <-bctx.Done():
		// The parser is stuck inside one step; it stops at its next check of bctx.
		r.err = bctx.Err()
	}
	if r.err != nil {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("extract %s: %w", filename, err)
		}
		var e *Error
		switch {
		case bctx.Err() != nil && (errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, context.Canceled)):
			return "", &Error{Kind: ErrCorrupt, Filename: filename, Type: string(t), Reason: fmt.Sprintf("extraction took longer than %s", budget)}
		case errors.As(r.err, &e):
			e.Filename, e.Type = filename, string(t)
			return "", e
		case errors.Is(r.err, errTooLarge):
			return "", &Error{Kind: ErrTooLarge, Filename: filename, Type: string(t), Reason: fmt.Sprintf("more than %d bytes of text", maxText)}
		}
		return "", &Error{Kind: ErrCorrupt, Filename: filename, Type: string(t), Reason: r.err.Error(), Err: r.err}
	}
	text := Normalize(r.text)
	if text == "" {
		reason := "the file has no text"
		if t == PDF {
			reason = "the PDF has no text layer (a scan needs OCR, which is not supported)"
		}
		return "", &Error{Kind: ErrNoText, Filename: filename, Type: string(t), Reason: reason}
	}
	return text, nil
}

var errTooLarge = errors.New("text limit reached")

// limited collects text up to max bytes; past that every write fails.
type limited struct {
	b   strings.Builder
	max int
}

func (l *limited) WriteString(s string) error {
	if l.b.Len()+len(s) > l.max {
		return errTooLarge
	}
	l.b.WriteString(s)
	return nil
}

func (l *limited) String() string { return l.b.String() }

// plainText decodes a text file, refusing binary data.
func plainText(data []byte) (string, error) {
	if looksBinary(data) {
		return "", &Error{Kind: ErrCorrupt, Reason: "binary data, not text"}
	}
	return decodeText(data), nil
}

// looksBinary reports NUL bytes in the first 8 KiB of a file without a UTF-16 mark:
// no text encoding this package reads has them.
func looksBinary(data []byte) bool {
	if isUTF16(data) {
		return false
	}
	head := data[:min(len(data), 8192)]
	for _, b := range head {
		if b == 0 {
			return true
		}
	}
	return false
}

func isUTF16(data []byte) bool {
	return len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF)
}

// decodeText reads UTF-8 (dropping a byte order mark), UTF-16 with a byte order mark,
// and anything else as Latin-1.
func decodeText(data []byte) string {
	if isUTF16(data) {
		big := data[0] == 0xFE
		u := make([]uint16, 0, len(data)/2)
		for i := 2; i+1 < len(data); i += 2 {
			if big {
				u = append(u, uint16(data[i])<<8|uint16(data[i+1]))
			} else {
				u = append(u, uint16(data[i+1])<<8|uint16(data[i]))
			}
		}
		return string(utf16.Decode(u))
	}
	s := strings.TrimPrefix(string(data), "\uFEFF")
	if utf8.ValidString(s) {
		return s
	}
	rs := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		rs[i] = rune(s[i])
	}
	return string(rs)
}

// Normalize applies the package's whitespace rules (see the package comment).
func Normalize(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var b, line strings.Builder
	b.Grow(len(s))
	gap := false // a blank line since the last text
	for l := range strings.Lines(s) {
		line.Reset()
		space := false
		for _, r := range l {
			switch {
			case unicode.IsSpace(r):
				space = line.Len() > 0
			case unicode.IsControl(r):
			default:
				if space {
					line.WriteByte(' ')
					space = false
				}
				line.WriteRune(r)
			}
		}
		if line.Len() == 0 {
			gap = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if gap {
				b.WriteByte('\n')
			}
		}
		gap = false
		b.WriteString(line.String())
	}
	return b.String()
}
