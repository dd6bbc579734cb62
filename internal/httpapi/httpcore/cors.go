package httpcore

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS lets browser pages on other origins call the API. The same policy serves
// three places: this middleware (the dev stack, and a Function URL or container
// with nothing in front that answers CORS), and — written into template.yaml by
// internal/lambdaapp/gen from the lists below — the HTTP API's CorsConfiguration
// and the streaming Function URL's Cors, which answer preflights themselves.
//
// The choices, for an API that authenticates with bearer tokens:
//
//   - Origins are exact (scheme://host[:port], compared in lower case), "*" alone
//     (any origin, never with credentials), or a loopback host with any port
//     (http://localhost:*, http://127.0.0.1:*, http://[::1]:*) for pages served by
//     a local dev server. No other pattern: a subdomain wildcard would hand the API
//     to every page of a zone.
//   - A request from an origin not on the list gets no CORS header at all; the
//     request's Origin is echoed only when it is on the list, never reflected.
//   - Listed origins may send credentials (Access-Control-Allow-Credentials: true
//     beside the echoed origin, which is what the browser requires); with "*" the
//     header is never sent, since browsers refuse "*" with credentials.
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//     answered 204 before authentication, rate limits and routing: browsers send it
//     without the token, and it says nothing about the route (the real request gets
//     the 404 or 405, with CORS headers so the page can read the problem).
//   - Every response carries Vary: Origin (preflights also vary on the requested
//     method and headers), so a shared cache never serves one origin's headers to
//     another.
//   - The preflight answer is cacheable for CORSMaxAge.
type CORS struct {
	any      bool
	exact    map[string]bool
	loopback []string // "scheme://host" whose every port is allowed
	origins  []string // as configured, for Origins
}

// Header names chatter sets or reads that a browser page must be allowed to send
// or read across origins. Each has this one spelling; the middleware, the router's
// other middleware and the generated template use these.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
	HeaderLastEventID        = "Last-Event-ID"
	HeaderRetryAfter         = "Retry-After"
	HeaderRateLimitLimit     = "RateLimit-Limit"
	HeaderRateLimitRemaining = "RateLimit-Remaining"
	HeaderRateLimitReset     = "RateLimit-Reset"
	// HeaderTotalCount and HeaderLink page the predecessor's bare-array lists
	// (total count, and the next page as a cursor link).
	HeaderTotalCount = "X-Total-Count"
	HeaderLink       = "Link"
	// HeaderExecutionID names the run an answer came from (the OpenAI-compatible
	// routes, whose bodies have no place for it).
	HeaderExecutionID = "X-Chatter-Execution-Id"
	// HeaderConversationID names the conversation of a run; sent by a client, the
	// conversation it continues.
	HeaderConversationID = "X-Chatter-Conversation-Id"
)

// CORSMaxAge is how long a browser may cache a preflight answer (Chromium caps it
// at two hours; API Gateway and Function URLs accept up to a day).
const CORSMaxAge = 2 * time.Hour

// corsMethods are the methods chatter's routes use (Function URLs take at most six,
// and no OPTIONS: preflights are implied).
var corsMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// corsAllowHeaders are the request headers a page may send beyond the CORS-safelisted
// ones. Cache-Control is there because the predecessor's frontend sends it with its
// streaming requests.
var corsAllowHeaders = []string{"Authorization", "Content-Type", "Accept", "Cache-Control",
	HeaderIdempotencyKey, HeaderLastEventID, HeaderRequestID, HeaderConversationID}

// corsExposeHeaders are the response headers beyond the safelisted ones (Content-Type,
// Cache-Control, Content-Length, ...) that chatter sets and a page may read.
var corsExposeHeaders = []string{HeaderRequestID, HeaderRetryAfter, HeaderRateLimitLimit, HeaderRateLimitRemaining,
	HeaderRateLimitReset, HeaderIdempotentReplayed, HeaderTotalCount, HeaderLink, "Location", "Content-Disposition", "WWW-Authenticate", "Allow",
	HeaderExecutionID, HeaderConversationID}

// corsReadable are the response headers a page reads without them being exposed
// (the Fetch standard's safelist), and those meant for the browser, the transport or
// a proxy rather than for scripts; with corsExposeHeaders they must cover every
// header chatter sets.
var corsReadable = []string{"Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires",
	"Last-Modified", "Pragma", "Date", "Vary", "Transfer-Encoding", "Connection", "X-Content-Type-Options",
	"X-Accel-Buffering"}

// CORSUnexposed returns the names in h a cross-origin page could not read though
// they are meant for it: not safelisted, not a transport or proxy directive, not
// Access-Control-*, and not in CORSExposeHeaders. Tests check real answers with it,
// so a header added to a response is added to the exposed list too.
func CORSUnexposed(h http.Header) []string {
	var out []string
	for k := range h {
		known := func(e string) bool { return strings.EqualFold(e, k) }
		if !strings.HasPrefix(http.CanonicalHeaderKey(k), "Access-Control-") &&
			!slices.ContainsFunc(corsReadable, known) && !slices.ContainsFunc(corsExposeHeaders, known) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// CORSMethods returns the methods a cross-origin page may use.
func CORSMethods() []string { return slices.Clone(corsMethods) }

// CORSAllowHeaders returns the request headers a cross-origin page may send.
func CORSAllowHeaders() []string { return slices.Clone(corsAllowHeaders) }

// CORSExposeHeaders returns the response headers a cross-origin page may read.
func CORSExposeHeaders() []string { return slices.Clone(corsExposeHeaders) }

// LoopbackOrigins allow a page on any port of the local machine: the dev stack's
// default.
func LoopbackOrigins() []string {
	return []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"}
}

var loopbackHosts = []string{"localhost", "127.0.0.1", "[::1]"}

// NewCORS returns the policy for origins (see CORS for what an entry may be). An
// error names the first entry that is not an origin and says why.
func NewCORS(origins []string) (*CORS, error) {
	if len(origins) == 0 {
		return nil, errors.New("no origins given")
	}
	c := &CORS{exact: map[string]bool{}}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimSpace(o))
		switch {
		case o == "*":
			if len(origins) > 1 {
				return nil, errors.New(`"*" (any origin) must be the only entry`)
			}
			c.any = true
		case strings.HasSuffix(o, ":*"):
			base := strings.TrimSuffix(o, ":*")
			if err := checkOrigin(base); err != nil {
				return nil, fmt.Errorf("origin %q: %w", o, err)
			}
			u, _ := url.Parse(base)
			if u.Port() != "" || !slices.Contains(loopbackHosts, u.Host) {
				return nil, fmt.Errorf("origin %q: a port wildcard is only allowed on localhost, 127.0.0.1 and [::1]", o)
			}
			c.loopback = append(c.loopback, base)
		default:
			if err := checkOrigin(o); err != nil {
				return nil, fmt.Errorf("origin %q: %w", o, err)
			}
			c.exact[o] = true
		}
		c.origins = append(c.origins, o)
	}
	return c, nil
}

// checkOrigin accepts what a browser sends as Origin: scheme://host[:port], http or
// https, nothing after the authority.
func checkOrigin(o string) error {
	if o == "null" {
		return errors.New(`"null" is the origin of sandboxed and file pages; it cannot be allowed`)
	}
	if strings.Contains(o, "*") {
		return errors.New("wildcards are not supported (only \"*\" alone, or a loopback host with port *); list each origin")
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be scheme://host[:port] with scheme http or https")
	}
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return errors.New("must be scheme://host[:port] with nothing after it (no path, not even a trailing /)")
	}
	if strings.HasSuffix(u.Host, ":") {
		return errors.New("has an empty port")
	}
	if p := u.Port(); p != "" {
		if !validPort(p) {
			return fmt.Errorf("port %q is not a port number", p)
		}
		if (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
			return fmt.Errorf("drop the default port :%s (browsers leave it out of Origin)", p)
		}
	}
	return nil
}

// Origins returns the configured origins, in lower case; none for a nil policy.
func (c *CORS) Origins() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.origins)
}

// AllowsAny reports whether the policy is "*".
func (c *CORS) AllowsAny() bool { return c.any }

// allows reports whether a request's Origin is on the list.
func (c *CORS) allows(origin string) bool {
	if origin == "" {
		return false
	}
	if c.any {
		return true
	}
	o := strings.ToLower(origin)
	if c.exact[o] {
		return true
	}
	for _, base := range c.loopback {
		rest, ok := strings.CutPrefix(o, base)
		if !ok {
			continue
		}
		if rest == "" {
			return true
		}
		if port, ok := strings.CutPrefix(rest, ":"); ok && validPort(port) {
			return true
		}
	}
	return false
}

// validPort accepts a port as an Origin spells it: 1 to 65535 in decimal.
func validPort(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(s)
	return n <= 65535
}

var (
	corsMethodsValue = strings.Join(corsMethods, ", ")
	corsAllowValue   = strings.Join(corsAllowHeaders, ", ")
	corsExposeValue  = strings.Join(corsExposeHeaders, ", ")
	corsMaxAgeValue  = strconv.Itoa(int(CORSMaxAge / time.Second))
)

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// Middleware applies the policy: it answers preflights itself and adds the CORS
// headers to every other response before the handler runs, so problems (401, 404,
// 429, a recovered panic) and event streams carry them too.
func (c *CORS) Middleware() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			allowed := c.allows(origin)
			if allowed {
				if c.any {
					h.Set("Access-Control-Allow-Origin", "*")
				} else {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
				}
			}
			if IsPreflight(r) {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				if allowed {
					h.Set("Access-Control-Allow-Methods", corsMethodsValue)
					h.Set("Access-Control-Allow-Headers", corsAllowValue)
					h.Set("Access-Control-Max-Age", corsMaxAgeValue)
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if allowed {
				h.Set("Access-Control-Expose-Headers", corsExposeValue)
			}
			next.ServeHTTP(w, r)
		})
	}
}
