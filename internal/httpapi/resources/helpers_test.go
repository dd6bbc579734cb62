package resources_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

const (
	issuer   = "https://auth.chatter.test"
	audience = "chatter-api"
	// pageOrigin is the browser page every request of the env comes from.
	pageOrigin = "https://app.chatter.test"
)

// recorder mounts on a real router and remembers every pattern, so a test can
// compare what is mounted with what the OpenAPI document covers.
type recorder struct {
	rt       *httpcore.Router
	patterns []string
}

func (r *recorder) Mount(p string, h http.Handler, opts ...httpcore.RouteOption) {
	r.patterns = append(r.patterns, strings.TrimSuffix(p, "{$}")) // "/x/{$}" serves "/x/" exactly
	r.rt.Mount(p, h, opts...)
}

// chatPatterns are the routes chat.Register mounts.
var chatPatterns = func() []string {
	var out []string
	for _, r := range chat.Routes {
		out = append(out, r.Pattern)
	}
	return out
}()

// openaiPatterns are the routes openaiapi.Register mounts. They answer errors in
// OpenAI's shape, not as problems: cmd/chatter's TestOpenAI_* tests check them
// (auth, body limit, their documented shapes) against a dev stack.
var openaiPatterns = []string{openaiapi.PathCompletions, openaiapi.PathModels}

// openaiRoute: a route of openaiPatterns.
func openaiRoute(method, path string) bool { return slices.Contains(openaiPatterns, method+" "+path) }

type env struct {
	srv      *httptest.Server
	st       resources.Store
	x        *executor.Executor
	rec      *events.Recorder // every event of every run, for tests that play the record subscriber
	key      jwk.Key
	patterns []string
	// templatesMade counts createTemplate calls, for unique names.
	templatesMade int
	// noCheck turns off the OpenAPI check of responses (the DynamoDB suite).
	noCheck bool
}

type envOpts struct {
	st      resources.Store // default store.NewMemory()
	limiter httpcore.Limiter
	rates   map[httpcore.Class]httpcore.Rate
	noCheck bool
	idem    bool // keep Idempotency-Key answers in st
	// noValidation builds the routes without resources.NewValidation.
	noValidation bool
}

// execStore is what the executor needs; both stores have it.
type execStore interface {
	resources.Store
	executor.Store
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	key, err := jwtauth.NewSigningKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		t.Fatal(err)
	}
	auth, err := jwtauth.NewStaticKeys(jwtauth.StaticKeysConfig{Keys: set, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	st := o.st
	if st == nil {
		st = store.NewMemory()
	}
	xs, ok := st.(execStore)
	if !ok {
		t.Fatalf("%T is not an executor store", st)
	}
	rec := &events.Recorder{}
	x, err := executor.New(executor.Options{Store: xs, Emitter: rec,
		Providers: []llm.Provider{devllm.New(devllm.Options{})}, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cors, err := httpcore.NewCORS([]string{pageOrigin})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{Auth: auth, Limiter: o.limiter, Rates: o.rates, CORS: cors,
		Ready: func(context.Context) error { return nil }, Logger: slog.New(slog.DiscardHandler)}
	if o.idem {
		cfg.Idempotency = st.(httpapi.IdempotencyStore)
	}
	rt := httpapi.NewRouter(cfg)
	chat.Register(rt, x)
	routes := &recorder{rt: rt}
	v := resources.NewValidation(tools.Builtins(), cond.Compiler)
	if o.noValidation {
		v = resources.Validation{}
	}
	resources.Register(routes, resources.Deps{Store: st, Validation: v, Defaults: resources.Defaults{Providers: []string{"devllm"}}})
	e := &env{st: st, x: x, rec: rec, key: key, patterns: routes.patterns, noCheck: o.noCheck}
	e.srv = httptest.NewServer(rt)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) token(t testing.TB, sub string) string {
	t.Helper()
	tok, err := jwtauth.MintToken(e.key, issuer, audience, sub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is a response read whole.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r response) problem(t testing.TB) httpcore.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, status %d, body %s", ct, r.StatusCode, r.body)
	}
	var p httpcore.Problem
	r.json(t, &p)
	return p
}

// do sends a request as user ("" sends no token) from pageOrigin and checks the
// response against the OpenAPI document, and that the page can read it and every
// header of it.
func (e *env) do(t testing.TB, method, user, path, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.token(t, user))
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", pageOrigin)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !e.noCheck {
		checkResponse(t, req, resp, b)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != pageOrigin {
		t.Errorf("%s %s -> %d: Access-Control-Allow-Origin %q, want %q", method, path, resp.StatusCode, got, pageOrigin)
	}
	if bad := httpcore.CORSUnexposed(resp.Header); len(bad) > 0 {
		t.Errorf("%s %s -> %d sets %v, which a cross-origin page cannot read: add them to httpapi's CORS expose list",
			method, path, resp.StatusCode, bad)
	}
	return response{resp, b}
}

func (e *env) get(t testing.TB, user, path string) response { return e.do(t, "GET", user, path, "") }
func (e *env) post(t testing.TB, user, path, body string) response {
	return e.do(t, "POST", user, path, body)
}

// checkResponse validates a real response (status, headers, body and, for an event
// stream, each frame) against chatter's OpenAPI document.
func checkResponse(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	apitest.Ours(t).Response(t, req, nil, resp.StatusCode, resp.Header, body)
}

// validateRequest checks that a request the API accepted also matches the
// document's request schema.
func validateRequest(t testing.TB, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, path, nil)
	req.Header.Set("Content-Type", "application/json")
	apitest.Ours(t).Request(t, req, []byte(body))
}

// chainJSON is a valid start -> llm -> end graph in the editor's format.
const chainJSON = `{"name":"chain","nodes":[
 {"id":"start","type":"start","position":{"x":0,"y":0},"data":{"label":"Start"}},
 {"id":"llm","type":"custom","selected":true,"data":{"label":"Model","nodeType":"llm","config":{"temperature":0.2}}},
 {"id":"end","type":"end","data":{}}],
 "edges":[{"id":"e1","source":"start","target":"llm"},{"id":"e2","source":"llm","target":"end"}]}`

// createDefinition stores chainJSON for user and returns its id.
func (e *env) createDefinition(t testing.TB, user string) string {
	t.Helper()
	r := e.post(t, user, "/api/v1/workflows/definitions", chainJSON)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("create definition: %d %s", r.StatusCode, r.body)
	}
	var d resources.DefinitionResponse
	r.json(t, &d)
	return d.ID
}

// createTemplate stores a user template and returns its id.
// createTemplate stores a template for user: the first is named "helper", later
// ones "helper 2", "helper 3", … (names are unique per user).
func (e *env) createTemplate(t testing.TB, user string) string {
	t.Helper()
	e.templatesMade++
	name := "helper"
	if e.templatesMade > 1 {
		name += " " + strconv.Itoa(e.templatesMade)
	}
	r := e.post(t, user, "/api/v1/workflows/templates",
		`{"name":"`+name+`","capabilities":{"memory":true},"params":{"system_prompt":"Be brief."}}`)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("create template: %d %s", r.StatusCode, r.body)
	}
	var tp resources.TemplateResponse
	r.json(t, &tp)
	return tp.ID
}

// chat runs one chat turn for user and returns the response.
func (e *env) chat(t testing.TB, user, body string) wire.ChatResponse {
	t.Helper()
	r := e.post(t, user, "/api/v1/workflows/execute/chat", body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("chat: %d %s", r.StatusCode, r.body)
	}
	var cr wire.ChatResponse
	r.json(t, &cr)
	return cr
}
