package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
)

func TestFail_ProblemShapeAndStatusPerCode(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	tok := a.keys.token(t, "alice")
	cases := []struct {
		code       string
		status     int
		wantCode   string
		showDetail bool
	}{
		{"invalid", 500, "internal", false}, // not a code: invalid_input is
		{"invalid_input", 422, "invalid_input", true},
		{"invalid_workflow", 400, "invalid_workflow", true},
		{"unknown_provider", 400, "unknown_provider", true},
		{"provider_unconfigured", 400, "provider_unconfigured", true},
		{"unknown_tool", 400, "unknown_tool", true},
		{"unsupported_source", 400, "unsupported_source", true},
		{"unauthorized", 401, "unauthorized", true},
		{"not_found", 404, "not_found", true},
		{"conflict", 409, "conflict", true},
		{"too_large", 413, "too_large", true},
		{"rate_limited", 429, "rate_limited", true},
		{"internal", 500, "internal", false},
		{"storage_error", 500, "storage_error", false},
		{"no_such_code", 500, "internal", false},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			resp, b := a.do(t, "GET", "/fail/"+c.code, tok, "")
			if resp.StatusCode != c.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, c.status)
			}
			p := problemOf(t, resp, b)
			if p.Code != c.wantCode || p.Type != httpcore.ProblemTypePrefix+c.wantCode || p.Title == "" {
				t.Errorf("code/type/title = %q %q %q", p.Code, p.Type, p.Title)
			}
			if p.Instance != "/fail/"+c.code {
				t.Errorf("instance = %q", p.Instance)
			}
			if p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") {
				t.Errorf("request_id %q, header %q", p.RequestID, resp.Header.Get("X-Request-Id"))
			}
			leaked := strings.Contains(string(b), "secret detail")
			if leaked != c.showDetail {
				t.Errorf("detail shown = %v, want %v: %s", leaked, c.showDetail, b)
			}
			if c.showDetail && (len(p.Errors) != 1 || p.Errors[0].Field != "x") {
				t.Errorf("errors = %+v", p.Errors)
			}
		})
	}
	// Only internal errors are logged in full (the access log aside).
	var failures []string
	for _, l := range a.logs.lines(t) {
		if l["msg"] == "request failed" {
			failures = append(failures, l["code"].(string))
		}
	}
	if strings.Join(failures, ",") != "invalid,internal,storage_error,no_such_code" {
		t.Errorf("logged failures = %v", failures)
	}
}

func TestAsError_StoreCodesMapToStatuses(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{store.NotFound("conversation", "c1"), 404},
		{store.Conflict("version moved"), 409},
		{store.Invalid("bad cursor"), 422},
		{&store.Error{Code: errcode.TooLarge, Message: "big"}, 413},
		{&store.Error{Code: "throttled", Message: "x"}, 500},
		{&http.MaxBytesError{Limit: 10}, 413},
		{errors.New("boom"), 500},
	}
	for _, c := range cases {
		e := httpapi.AsError(c.err)
		if got := errcode.Of(e.Code).Status; got != c.status {
			t.Errorf("%v -> %s (%d), want %d", c.err, e.Code, got, c.status)
		}
	}
}

func TestAuth_RejectsBadTokensWith401AndBearerChallenge(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	mint := func(key jwk.Key, iss, aud string, ttl time.Duration) string {
		tok, err := jwtauth.MintToken(key, iss, aud, "alice", ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	k := a.keys
	cases := []struct {
		name, header, want string
	}{
		{"missing", "", "missing bearer token"},
		{"not bearer", "Basic YWxpY2U6cHc=", "not a bearer token"},
		{"malformed", "Bearer not.a.jwt", "malformed"},
		{"expired", "Bearer " + mint(k.signing, testIssuer, testAudience, -time.Hour), "expired"},
		{"wrong issuer", "Bearer " + mint(k.signing, "https://evil.test", testAudience, time.Hour), "issuer"},
		{"wrong audience", "Bearer " + mint(k.signing, testIssuer, "other-api", time.Hour), "audience"},
		{"bad signature", "Bearer " + mint(k.other, testIssuer, testAudience, time.Hour), "signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.header != "" {
				hdr = []string{"Authorization", c.header}
			}
			resp, b := a.do(t, "POST", "/echo", "", `{"name":"x"}`, hdr...)
			if resp.StatusCode != 401 {
				t.Fatalf("status = %d: %s", resp.StatusCode, b)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", ch)
			}
			p := problemOf(t, resp, b)
			if p.Code != "unauthorized" || !strings.Contains(p.Detail, c.want) {
				t.Errorf("problem = %q %q, want detail with %q", p.Code, p.Detail, c.want)
			}
			if tok, ok := strings.CutPrefix(c.header, "Bearer "); ok && strings.Contains(string(b), tok) {
				t.Errorf("the token is echoed in the problem")
			}
		})
	}
}

func TestAuth_ValidTokenReachesHandlerWithUserID(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	resp, b := a.do(t, "POST", "/echo", a.keys.token(t, "alice"), `{"name":"x"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"user":"alice"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func TestAPIGateway_ReadsSubFromJWTAuthorizerContext(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/echo", RequestContext: events.APIGatewayV2HTTPRequestContext{
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/echo"},
		Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "alice"}}},
	}}
	var acc core.RequestAccessorV2
	req, err := acc.EventToRequestWithContext(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := httpcore.APIGateway{}.Authenticate(req)
	if err != nil || uid != "alice" {
		t.Fatalf("uid %q err %v", uid, err)
	}

	// The proxy's context header alone (forgeable by a client) is not trusted.
	forged := httptest.NewRequest("POST", "/echo", nil)
	forged.Header.Set("X-GoLambdaProxy-ApiGw-Context", `{"authorizer":{"jwt":{"claims":{"sub":"mallory"}}}}`)
	if uid, err := (httpcore.APIGateway{}).Authenticate(forged); err == nil || httpapi.AsError(err).Code != "unauthorized" {
		t.Fatalf("forged header: uid %q err %v", uid, err)
	}
}

func TestJWKS_VerifiesAgainstTheFetchedKeySet(t *testing.T) {
	k := newKeys(t)
	set := jwk.NewSet()
	pub, err := k.signing.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	_ = set.AddKey(pub)
	body, _ := json.Marshal(set)
	fetches := 0
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer ks.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := jwtauth.NewJWKS(ctx, jwtauth.JWKSConfig{URL: ks.URL, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, httpapi.Config{Auth: j})
	if resp, b := a.do(t, "POST", "/echo", k.token(t, "bob"), `{}`); resp.StatusCode != 200 || !strings.Contains(string(b), `"bob"`) {
		t.Fatalf("valid token: %d %s", resp.StatusCode, b)
	}
	other, _ := jwtauth.MintToken(k.other, testIssuer, testAudience, "bob", time.Hour)
	if resp, b := a.do(t, "POST", "/echo", other, `{}`); resp.StatusCode != 401 {
		t.Fatalf("unknown key: %d %s", resp.StatusCode, b)
	}
	if fetches != 1 {
		t.Errorf("key set fetched %d times, want 1 (cached)", fetches)
	}
}

func TestDecode_ReportsWhatIsWrong(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{BodyLimit: 64})
	tok := a.keys.token(t, "alice")
	cases := []struct {
		name, body string
		status     int
		field      string
		detail     string
	}{
		{"unknown field", `{"name":"x","extra":1}`, 422, "extra", `unknown field "extra"`},
		{"malformed", `{"name": x}`, 422, "", "byte 10"},
		{"wrong type", `{"count":"three"}`, 422, "/count", "count must be a number, not string"},
		{"wrong nested type", `{"nested":{"x":true}}`, 422, "/nested/x", "must be a number"},
		{"not an object", `[1,2]`, 422, "", "must be a JSON"},
		{"empty", ``, 422, "", "empty"},
		{"truncated", `{"name":"x"`, 422, "", "malformed"},
		{"trailing data", `{"name":"x"} {"name":"y"}`, 422, "", "after the JSON value"},
		{"too large", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "", "larger than 64 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := a.do(t, "POST", "/echo", tok, c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("status = %d: %s", resp.StatusCode, b)
			}
			p := problemOf(t, resp, b)
			if !strings.Contains(p.Detail, c.detail) {
				t.Errorf("detail = %q, want %q", p.Detail, c.detail)
			}
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
				t.Errorf("errors = %+v, want field %q", p.Errors, c.field)
			}
		})
	}
}

func TestBodyLimit_ChunkedBodyOverLimitIs413(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{BodyLimit: 64})
	req, _ := http.NewRequest("POST", a.srv.URL+"/echo", strings.NewReader(`{"name":"`+strings.Repeat("y", 200)+`"}`))
	req.ContentLength = -1 // chunked: the limit must hold while reading, not only on the header
	req.Header.Set("Authorization", "Bearer "+a.keys.token(t, "alice"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
}

func TestRateLimit_429WithHeadersAfterLimit(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{Rates: map[httpcore.Class]httpcore.Rate{httpcore.ClassOther: {Limit: 3, Window: time.Minute}}})
	alice, bob := a.keys.token(t, "alice"), a.keys.token(t, "bob")
	for i := 1; i <= 3; i++ {
		resp, b := a.do(t, "GET", "/items", alice, "")
		if resp.StatusCode != 200 {
			t.Fatalf("hit %d: %d %s", i, resp.StatusCode, b)
		}
		if got := resp.Header.Get("RateLimit-Remaining"); got != string(rune('0'+3-i)) {
			t.Errorf("hit %d: RateLimit-Remaining = %q", i, got)
		}
		if resp.Header.Get("RateLimit-Limit") != "3" || resp.Header.Get("RateLimit-Reset") == "" {
			t.Errorf("hit %d: headers %v", i, resp.Header)
		}
	}
	resp, b := a.do(t, "GET", "/items", alice, "")
	if resp.StatusCode != 429 {
		t.Fatalf("4th hit: %d", resp.StatusCode)
	}
	p := problemOf(t, resp, b)
	if p.Code != "rate_limited" || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("problem %+v headers %v", p, resp.Header)
	}
	if resp, _ := a.do(t, "GET", "/items", bob, ""); resp.StatusCode != 200 {
		t.Errorf("another user is limited too: %d", resp.StatusCode)
	}
}

type failingLimiter struct{}

func (failingLimiter) Hit(context.Context, string, time.Duration, int) (int, time.Time, error) {
	return 0, time.Time{}, errors.New("table unavailable")
}

func TestRateLimit_LimiterErrorFailsOpenWithWarning(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{Limiter: failingLimiter{}})
	resp, _ := a.do(t, "GET", "/items", a.keys.token(t, "alice"), "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if !strings.Contains(a.logs.String(), "rate limiter failed") {
		t.Errorf("no warning logged: %s", a.logs.String())
	}
}

func TestRequestID_EchoedWhenValidElseNew(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	cases := []struct{ sent, want string }{
		{"req-123_abc", "req-123_abc"},
		{"bad id with spaces", ""},
		{strings.Repeat("x", 200), ""},
		{"", ""},
	}
	for _, c := range cases {
		resp, b := a.do(t, "GET", "/fail/not_found", "", "", "X-Request-Id", c.sent)
		got := resp.Header.Get("X-Request-Id")
		if c.want != "" && got != c.want || c.want == "" && len(got) != 26 {
			t.Errorf("sent %q: got %q", c.sent, got)
		}
		if p := problemOf(t, resp, b); p.RequestID != got {
			t.Errorf("problem request_id %q != header %q", p.RequestID, got)
		}
	}
}

func TestRecover_PanicIs500ProblemLoggedOnceWithStack(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	resp, b := a.do(t, "GET", "/panic", a.keys.token(t, "alice"), "")
	p := problemOf(t, resp, b)
	if resp.StatusCode != 500 || p.Code != "internal" || strings.Contains(string(b), "boom") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	n := 0
	for _, l := range a.logs.lines(t) {
		if l["msg"] == "panic" {
			n++
			if !strings.Contains(l["stack"].(string), "goroutine") {
				t.Errorf("no stack in %v", l)
			}
		}
	}
	if n != 1 {
		t.Errorf("panic logged %d times", n)
	}
}

func TestAccessLog_OneLinePerRequestWithoutSecrets(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	tok := a.keys.token(t, "alice")
	a.do(t, "POST", "/echo", tok, `{"name":"body-secret"}`, "X-Request-Id", "rid-1")
	var got map[string]any
	for _, l := range a.logs.lines(t) {
		if l["msg"] == "request" {
			got = l
		}
	}
	want := map[string]any{"method": "POST", "route": "POST /echo", "status": float64(200), "request_id": "rid-1", "user_id": "alice"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, got[k], v, got)
		}
	}
	if _, ok := got["duration_ms"].(float64); !ok {
		t.Errorf("no duration_ms: %v", got)
	}
	if s := a.logs.String(); strings.Contains(s, tok) || strings.Contains(s, "body-secret") {
		t.Errorf("log carries the token or the body: %s", s)
	}
	// Each id once per line (a JSON decoder keeps only the last of duplicate keys).
	for _, line := range strings.Split(strings.TrimSpace(a.logs.String()), "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			continue
		}
		for _, k := range []string{`"request_id":`, `"user_id":`} {
			if n := strings.Count(line, k); n != 1 {
				t.Errorf("%s appears %d times in %s", k, n, line)
			}
		}
	}
}

func TestRouter_HealthIsOpenOtherRoutesAreNot(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	if resp, b := a.do(t, "GET", "/health", "", ""); resp.StatusCode != 200 || !strings.Contains(string(b), "ok") {
		t.Errorf("health: %d %s", resp.StatusCode, b)
	}
	if resp, _ := a.do(t, "GET", "/items", "", ""); resp.StatusCode != 401 {
		t.Errorf("items without token: %d", resp.StatusCode)
	}
}

func TestRouter_UnmatchedRoutesAreProblems(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	resp, b := a.do(t, "GET", "/nope", "", "")
	if p := problemOf(t, resp, b); resp.StatusCode != 404 || p.Code != "not_found" {
		t.Errorf("404: %d %+v", resp.StatusCode, p)
	}
	resp, b = a.do(t, "DELETE", "/echo", "", "")
	if p := problemOf(t, resp, b); resp.StatusCode != 405 || p.Code != "method_not_allowed" || resp.Header.Get("Allow") == "" {
		t.Errorf("405: %d %+v %v", resp.StatusCode, p, resp.Header)
	}
}
