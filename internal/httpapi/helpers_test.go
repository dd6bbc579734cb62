package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/store"
)

const (
	testIssuer   = "https://auth.chatter.test"
	testAudience = "chatter-api"
)

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes the JSON log lines.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

type keys struct {
	signing jwk.Key // in the verifier's set
	other   jwk.Key // not in it
	auth    *jwtauth.StaticKeys
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	k1, err := jwtauth.NewSigningKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := jwtauth.NewSigningKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(k1); err != nil {
		t.Fatal(err)
	}
	a, err := jwtauth.NewStaticKeys(jwtauth.StaticKeysConfig{Keys: set, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	return &keys{signing: k1, other: k2, auth: a}
}

func (k *keys) token(t testing.TB, sub string) string {
	t.Helper()
	tok, err := jwtauth.MintToken(k.signing, testIssuer, testAudience, sub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type testAPI struct {
	srv  *httptest.Server
	keys *keys
	logs *syncBuffer
}

type echoBody struct {
	Name   string `json:"name"`
	Count  int    `json:"count"`
	Nested struct {
		X int `json:"x"`
	} `json:"nested"`
}

// newTestAPI serves a Router with a few probe routes.
func newTestAPI(t *testing.T, cfg httpapi.Config) *testAPI {
	t.Helper()
	k := newKeys(t)
	logs := &syncBuffer{}
	if cfg.Auth == nil {
		cfg.Auth = k.auth
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	if cfg.Limiter == nil {
		cfg.Limiter = store.NewMemory()
	}
	rt := httpapi.NewRouter(cfg)
	rt.Mount("POST /echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b echoBody
		if err := httpcore.Decode(r, &b); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		httpcore.WriteJSON(w, r, http.StatusOK, map[string]any{"body": b, "user": httpcore.UserID(r.Context())})
	}))
	rt.Mount("GET /fail/{code}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Fail(w, r, &httpcore.Error{Code: r.PathValue("code"), Message: "secret detail " + r.PathValue("code"),
			Errors: []httpcore.FieldError{{Field: "x", Code: r.PathValue("code"), Message: "m"}}})
	}))
	rt.Mount("GET /items", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WritePage(w, r, store.Page[int]{Items: []int{1}})
	}))
	rt.Mount("GET /panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return &testAPI{srv: srv, keys: k, logs: logs}
}

func (a *testAPI) do(t *testing.T, method, path, token, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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
	return resp, b
}

func problemOf(t *testing.T, resp *http.Response, b []byte) httpcore.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, b)
	}
	var p httpcore.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, b)
	}
	if p.Status != resp.StatusCode {
		t.Fatalf("problem status %d != response status %d", p.Status, resp.StatusCode)
	}
	return p
}
