package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
)

const appOrigin = "https://app.example.com"

// countingAuth authenticates through inner and counts the calls.
type countingAuth struct {
	inner httpcore.Authenticator
	calls atomic.Int32
}

func (a *countingAuth) Authenticate(r *http.Request) (string, error) {
	a.calls.Add(1)
	return a.inner.Authenticate(r)
}

// countingLimiter counts hits and never limits.
type countingLimiter struct{ hits atomic.Int32 }

func (l *countingLimiter) Hit(context.Context, string, time.Duration, int) (int, time.Time, error) {
	l.hits.Add(1)
	return 1, time.Now().Add(time.Minute), nil
}

type corsAPI struct {
	api     *testAPI
	keys    *keys
	auth    *countingAuth
	limiter *countingLimiter
}

// newCORSAPI serves a Router with the CORS policy of origins, an authenticated
// JSON route, an authenticated SSE route and a panicking one.
func newCORSAPI(t *testing.T, origins ...string) *corsAPI {
	t.Helper()
	k := newKeys(t)
	a := &corsAPI{keys: k, auth: &countingAuth{inner: k.auth}, limiter: &countingLimiter{}}
	cfg := httpapi.Config{Auth: a.auth, Limiter: a.limiter, Logger: slog.New(slog.DiscardHandler)}
	if len(origins) > 0 {
		c, err := httpcore.NewCORS(origins)
		if err != nil {
			t.Fatal(err)
		}
		cfg.CORS = c
	}
	rt := httpapi.NewRouter(cfg)
	rt.Mount("POST /api/v1/things", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpcore.WriteJSON(w, r, http.StatusOK, map[string]string{"user": httpcore.UserID(r.Context())})
	}))
	rt.Mount("GET /api/v1/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpcore.NewSSE(w, time.Minute)
		_ = s.Event(1, "token", map[string]string{"type": "token", "content": "hi"})
		_ = s.Close()
	}))
	rt.Mount("GET /api/v1/panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	a.api = &testAPI{srv: srv, keys: k}
	return a
}

// do sends a request from origin ("" sends no Origin).
func (a *corsAPI) do(t *testing.T, method, path, origin, token string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	if origin != "" {
		hdr = append([]string{"Origin", origin}, hdr...)
	}
	return a.api.do(t, method, path, token, "", hdr...)
}

func preflight(method, headers string) []string {
	return []string{"Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers}
}

// corsHeaders are the Access-Control-* headers of a response.
func corsHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = v
		}
	}
	return out
}

func hasVary(h http.Header, v string) bool { return listHas(strings.Join(h.Values("Vary"), ","), v) }

// listHas reports whether a comma-separated header value names item.
func listHas(value, item string) bool {
	for _, f := range strings.Split(value, ",") {
		if strings.EqualFold(strings.TrimSpace(f), item) {
			return true
		}
	}
	return false
}

func TestNewCORS_RejectsWhatIsNotAnOriginNamingIt(t *testing.T) {
	for _, tc := range []struct {
		origins []string
		want    string
	}{
		{nil, "no origins"},
		{[]string{"null"}, "null"},
		{[]string{"https://app.example.com/"}, "trailing /"},
		{[]string{"https://app.example.com/path"}, "no path"},
		{[]string{"https://app.example.com?x=1"}, "nothing after"},
		{[]string{"https://user@app.example.com"}, "nothing after"},
		{[]string{"app.example.com"}, "scheme://host"},
		{[]string{"ftp://app.example.com"}, "http or https"},
		{[]string{"https://*.example.com"}, "wildcards"},
		{[]string{"https://app.example.com:*"}, "only allowed on localhost"},
		{[]string{"http://localhost:5173:*"}, "only allowed on localhost"},
		{[]string{"https://app.example.com:443"}, "default port"},
		{[]string{"https://app.example.com:99999"}, "not a port"},
		{[]string{"https://app.example.com:"}, "empty port"},
		{[]string{"*", appOrigin}, "only entry"},
	} {
		_, err := httpcore.NewCORS(tc.origins)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewCORS(%q) = %v, want an error saying %q", tc.origins, err, tc.want)
			continue
		}
		if len(tc.origins) == 1 && !strings.Contains(err.Error(), tc.origins[0]) && tc.origins[0] != "null" {
			t.Errorf("NewCORS(%q): %v does not name the entry", tc.origins, err)
		}
	}
	c, err := httpcore.NewCORS([]string{" HTTPS://App.Example.com ", "http://localhost:*", "http://10.0.0.5:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Origins(); !slices.Equal(got, []string{appOrigin, "http://localhost:*", "http://10.0.0.5:8080"}) {
		t.Errorf("Origins() = %q", got)
	}
}

func TestCORS_AllowedOriginGetsHeadersOnEveryAnswer(t *testing.T) {
	a := newCORSAPI(t, appOrigin)
	tok := a.keys.token(t, "alice")
	for _, tc := range []struct {
		name, method, path, token string
		status                    int
	}{
		{"ok", "POST", "/api/v1/things", tok, 200},
		{"no token", "POST", "/api/v1/things", "", 401},
		{"no route", "GET", "/api/v1/nothing", tok, 404},
		{"wrong method", "DELETE", "/api/v1/things", tok, 405},
		{"panic", "GET", "/api/v1/panic", tok, 500},
		{"health", "GET", "/health", "", 200},
		{"stream", "GET", "/api/v1/stream", tok, 200},
	} {
		resp, b := a.do(t, tc.method, tc.path, appOrigin, tc.token)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.status)
		}
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != appOrigin || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!hasVary(h, "Origin") || !listHas(h.Get("Access-Control-Expose-Headers"), httpcore.HeaderRequestID) {
			t.Errorf("%s: CORS headers %v, Vary %q", tc.name, corsHeaders(h), h.Values("Vary"))
		}
	}
	// The event stream keeps its own headers beside them.
	resp, b := a.do(t, "GET", "/api/v1/stream", appOrigin, tok)
	if resp.Header.Get("Content-Type") != "text/event-stream" || !strings.Contains(string(b), "data: [DONE]") {
		t.Errorf("stream: %v %s", resp.Header, b)
	}
}

func TestCORS_DisallowedOriginGetsNoCORSHeaders(t *testing.T) {
	a := newCORSAPI(t, appOrigin, "http://localhost:*")
	tok := a.keys.token(t, "alice")
	for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example", "http://app.example.com",
		"https://app.example.com:8443", "https://sub.app.example.com", "null", "http://localhost.evil.example",
		"http://localhost:5173.evil.example", "https://localhost:5173", "http://localhost:abc"} {
		resp, _ := a.do(t, "POST", "/api/v1/things", origin, tok)
		if resp.StatusCode != 200 || len(corsHeaders(resp.Header)) != 0 || !hasVary(resp.Header, "Origin") {
			t.Errorf("%s: %d, CORS headers %v, Vary %q", origin, resp.StatusCode, corsHeaders(resp.Header), resp.Header.Values("Vary"))
		}
		resp, b := a.do(t, "OPTIONS", "/api/v1/things", origin, "", preflight("POST", "authorization")...)
		if resp.StatusCode != 204 || len(corsHeaders(resp.Header)) != 0 || len(b) != 0 {
			t.Errorf("%s preflight: %d %s, CORS headers %v", origin, resp.StatusCode, b, corsHeaders(resp.Header))
		}
	}
}

func TestCORS_PreflightIsAnsweredWithoutTokenBeforeAuthAndRateLimit(t *testing.T) {
	a := newCORSAPI(t, appOrigin)
	for _, path := range []string{"/api/v1/things", "/api/v1/no/such/route", "/health"} {
		resp, b := a.do(t, "OPTIONS", path, appOrigin, "",
			preflight("POST", "authorization, content-type, idempotency-key, last-event-id")...)
		h := resp.Header
		if resp.StatusCode != 204 || len(b) != 0 {
			t.Errorf("%s: %d %s, want 204 without a body", path, resp.StatusCode, b)
		}
		if h.Get("Access-Control-Allow-Origin") != appOrigin || h.Get("Access-Control-Allow-Credentials") != "true" ||
			h.Get("Access-Control-Max-Age") != "7200" || !hasVary(h, "Origin") || !hasVary(h, "Access-Control-Request-Headers") {
			t.Errorf("%s: CORS headers %v, Vary %q", path, corsHeaders(h), h.Values("Vary"))
		}
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			if !listHas(h.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("%s: Allow-Methods %q lacks %s", path, h.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, hd := range []string{"Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "Accept"} {
			if !listHas(h.Get("Access-Control-Allow-Headers"), hd) {
				t.Errorf("%s: Allow-Headers %q lacks %s", path, h.Get("Access-Control-Allow-Headers"), hd)
			}
		}
	}
	if n, m := a.auth.calls.Load(), a.limiter.hits.Load(); n != 0 || m != 0 {
		t.Errorf("preflights reached the authenticator %d times and the rate limiter %d times", n, m)
	}
	// An OPTIONS that is not a preflight is an ordinary request: 405.
	if resp, _ := a.do(t, "OPTIONS", "/api/v1/things", appOrigin, ""); resp.StatusCode != 405 {
		t.Errorf("OPTIONS without Access-Control-Request-Method: %d, want 405", resp.StatusCode)
	}
}

func TestCORS_CredentialsOnlyBesideAnEchoedOriginNeverWithStar(t *testing.T) {
	any := newCORSAPI(t, "*")
	tok := any.keys.token(t, "alice")
	for _, req := range [][]string{nil, preflight("POST", "authorization")} {
		method := "POST"
		if req != nil {
			method = "OPTIONS"
		}
		resp, _ := any.do(t, method, "/api/v1/things", "https://anyone.example", tok, req...)
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s with *: CORS headers %v", method, corsHeaders(resp.Header))
		}
	}
	named := newCORSAPI(t, appOrigin)
	resp, _ := named.do(t, "POST", "/api/v1/things", appOrigin, named.keys.token(t, "alice"))
	if resp.Header.Get("Access-Control-Allow-Origin") != appOrigin || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("named origin: CORS headers %v", corsHeaders(resp.Header))
	}
}

func TestCORS_LoopbackOriginsAllowAnyPortOfTheLocalMachineOnly(t *testing.T) {
	a := newCORSAPI(t, httpcore.LoopbackOrigins()...)
	for origin, want := range map[string]bool{
		"http://localhost:5173": true, "http://localhost": true, "http://127.0.0.1:8080": true, "http://[::1]:3000": true,
		"http://LOCALHOST:5173": true, "https://localhost:5173": false, "http://127.0.0.2:8080": false,
		"http://localhost:5173/": false, "http://localhost:65536": false, "http://example.com:5173": false,
	} {
		resp, _ := a.do(t, "OPTIONS", "/api/v1/things", origin, "", preflight("POST", "authorization")...)
		got := resp.Header.Get("Access-Control-Allow-Origin") == origin
		if got != want || (!want && len(corsHeaders(resp.Header)) != 0) {
			t.Errorf("%s: allowed %v, want %v (%v)", origin, got, want, corsHeaders(resp.Header))
		}
	}
}

func TestCORS_WithoutAPolicyTheRouterSetsNoCORSHeaders(t *testing.T) {
	// Behind API Gateway the HTTP API answers CORS; a second set of headers from
	// the function would make browsers refuse the response.
	a := newCORSAPI(t)
	resp, _ := a.do(t, "POST", "/api/v1/things", appOrigin, a.keys.token(t, "alice"))
	if resp.StatusCode != 200 || len(corsHeaders(resp.Header)) != 0 {
		t.Errorf("%d, CORS headers %v", resp.StatusCode, corsHeaders(resp.Header))
	}
	if resp, _ := a.do(t, "OPTIONS", "/api/v1/things", appOrigin, "", preflight("POST", "authorization")...); resp.StatusCode != 405 {
		t.Errorf("preflight without a policy: %d, want 405", resp.StatusCode)
	}
}

// TestCORS_EveryHeaderChatterSetsIsExposed drives the middleware that set headers
// (request id, auth, rate limits, idempotency, 405) and checks that a page can read
// each header of each answer.
func TestCORS_EveryHeaderChatterSetsIsExposed(t *testing.T) {
	c, err := httpcore.NewCORS([]string{appOrigin})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, httpapi.Config{CORS: c, Idempotency: store.NewMemory(),
		Rates: map[httpcore.Class]httpcore.Rate{httpcore.ClassOther: {Limit: 2, Window: time.Minute}}})
	alice := a.keys.token(t, "alice")
	o := []string{"Origin", appOrigin}
	idem := append([]string{"Idempotency-Key", "k1"}, o...)
	var answers []*http.Response
	for _, r := range []struct{ method, path, token, body string }{
		{"POST", "/echo", alice, `{"name":"a"}`},
		{"POST", "/echo", alice, `{"name":"a"}`}, // replayed
		{"POST", "/echo", alice, `{"name":"a"}`}, // 429
		{"POST", "/echo", "", ""},                // 401
		{"GET", "/echo", alice, ""},              // 405
		{"GET", "/health", "", ""},
	} {
		resp, _ := a.do(t, r.method, r.path, r.token, r.body, idem...)
		answers = append(answers, resp)
	}
	if answers[1].Header.Get(httpcore.HeaderIdempotentReplayed) != "true" || answers[2].StatusCode != 429 ||
		answers[3].StatusCode != 401 || answers[4].StatusCode != 405 {
		t.Fatalf("the probes did not produce the answers they probe: %d %v, %d, %d, %d", answers[1].StatusCode,
			answers[1].Header, answers[2].StatusCode, answers[3].StatusCode, answers[4].StatusCode)
	}
	for i, resp := range answers {
		if bad := httpcore.CORSUnexposed(resp.Header); len(bad) > 0 {
			t.Errorf("answer %d (%d) sets %v, which a cross-origin page cannot read: add them to CORSExposeHeaders", i, resp.StatusCode, bad)
		}
	}
}
