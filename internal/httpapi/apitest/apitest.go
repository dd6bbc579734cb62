// Package apitest is test support for every test that checks real HTTP exchanges
// against an OpenAPI document: chatter's own (httpapi.OpenAPI) and the predecessor's
// contract (predecessor-openapi.json here: the project's shared
// contracts/predecessor-openapi.json, verbatim, the one copy in the repository). Each
// document is loaded and validated once per test binary. Only tests import this
// package, so kin-openapi stays out of every Lambda.
package apitest

import (
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/chatterhq/chatter/internal/httpapi"
)

//go:embed predecessor-openapi.json
var predecessor []byte

// Doc is one loaded document and its router.
type Doc struct {
	Name string
	// SuccessOnly: only 2xx answers are checked (chatter's errors are problem+json,
	// not the predecessor's error bodies).
	SuccessOnly bool
	T           *openapi3.T
	router      routers.Router
}

type loaded struct {
	once sync.Once
	doc  *Doc
	err  error
}

var old, ours loaded

func (l *loaded) get(t testing.TB, name string, raw []byte, successOnly bool) *Doc {
	t.Helper()
	l.once.Do(func() {
		openapi3filter.RegisterBodyDecoder("text/event-stream", func(r io.Reader, _ http.Header,
			_ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
		d := &Doc{Name: name, SuccessOnly: successOnly}
		if d.T, l.err = openapi3.NewLoader().LoadFromData(raw); l.err != nil {
			return
		}
		if l.err = d.T.Validate(context.Background()); l.err != nil {
			return
		}
		if d.router, l.err = legacy.NewRouter(d.T); l.err == nil {
			l.doc = d
		}
	})
	if l.err != nil {
		t.Fatalf("%s: %v", name, l.err)
	}
	return l.doc
}

// Old is the predecessor's contract: paths, request and response shapes and status
// codes its clients were written against.
func Old(t testing.TB) *Doc { return old.get(t, "the predecessor's contract", predecessor, true) }

// Ours is chatter's own OpenAPI document, as the API serves it.
func Ours(t testing.TB) *Doc {
	return ours.get(t, "chatter's OpenAPI document", httpapi.OpenAPI, false)
}

// Ops lists "METHOD /path" of every operation whose path does not start with one of
// the skipped prefixes, sorted.
func (d *Doc) Ops(skip ...string) []string {
	var ops []string
	for path, item := range d.T.Paths.Map() {
		if slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(path, p) }) {
			continue
		}
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

func options() *openapi3filter.Options {
	return &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true, MultiError: true}
}

// route finds req's operation; ok is false when the document has none.
func (d *Doc) route(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, bool) {
	rreq := req.Clone(context.Background())
	rreq.URL.Scheme, rreq.URL.Host = "", ""
	rreq.Body = io.NopCloser(strings.NewReader(string(body)))
	route, params, err := d.router.FindRoute(rreq)
	if err != nil {
		return nil, false
	}
	return &openapi3filter.RequestValidationInput{Request: rreq, PathParams: params, Route: route, Options: options()}, true
}

// Request checks that req (with body) is an operation of the document and a request
// its schema allows, so a test cannot send what the document's clients never send.
// It returns the operation, "METHOD /path" as the document writes it.
func (d *Doc) Request(t testing.TB, req *http.Request, body []byte) string {
	t.Helper()
	in, ok := d.route(req, body)
	if !ok {
		t.Fatalf("%s %s is not an operation of %s", req.Method, req.URL.Path, d.Name)
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("%s %s: the request is not one %s allows: %v\nbody: %.400s", req.Method, req.URL.Path, d.Name, err, body)
	}
	return req.Method + " " + in.Route.Path
}

// Response checks a real answer (status, headers, body) to req against the
// document. A request the document has no operation for is fine only when answered
// 404 or 405. An event stream's frames are each checked against the document's
// StreamChunk schema when it has one (ChatCompletionChunk on the /v1 routes).
func (d *Doc) Response(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	in, ok := d.route(req, reqBody)
	if !ok {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s -> %d: not an operation of %s", req.Method, req.URL.Path, status, d.Name)
		}
		return
	}
	if d.SuccessOnly && status >= 300 {
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Options: in.Options}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s -> %d does not match %s: %v\nbody: %.800s", req.Method, req.URL.Path, status, d.Name, err, body)
	}
	// The OpenAI-compatible routes stream OpenAI's chunks, every other route chatter's.
	chunkSchema := "StreamChunk"
	if strings.HasPrefix(in.Route.Path, "/v1/") {
		chunkSchema = "ChatCompletionChunk"
	}
	chunk, ok := d.T.Components.Schemas[chunkSchema]
	if !ok || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		return
	}
	for _, f := range SSEData(body) {
		var v any
		if err := json.Unmarshal([]byte(f), &v); err != nil {
			t.Errorf("frame data %q is not JSON", f)
			continue
		}
		if err := chunk.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
			t.Errorf("frame %s does not match %s's StreamChunk: %v", f, d.Name, err)
		}
	}
}

// SSEData returns the data of every frame of an event stream but [DONE].
func SSEData(b []byte) []string {
	var out []string
	for line := range strings.Lines(string(b)) {
		if d, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok && d != "[DONE]" {
			out = append(out, d)
		}
	}
	return out
}

// Deps lists the packages the package under test (the test's working directory)
// links, tests aside: what a Lambda importing it pays for at cold start.
func Deps(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 2 {
		t.Fatalf("go list gave %d packages", len(deps))
	}
	return deps
}
