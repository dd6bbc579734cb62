package httpcore

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Config is what every route of a function shares.
type Config struct {
	// Auth authenticates every route but GET /health. Required.
	Auth Authenticator
	// Limiter counts requests per user and class; nil disables rate limits.
	Limiter Limiter
	// Rates overrides DefaultRates per class.
	Rates map[Class]Rate
	// Idempotency runs last in the chain of every authenticated route (httpapi's
	// Idempotency-Key middleware); nil ignores the header.
	Idempotency Middleware
	// Ready, when set, answers GET /ready (the readiness check: is the store
	// reachable?); nil leaves the route out.
	Ready func(context.Context) error
	// CORS, when set, answers browsers' cross-origin requests on every route (see
	// CORS). Leave it nil where a gateway in front does (API Gateway's
	// CorsConfiguration, a Function URL's Cors): two sets of CORS headers make
	// browsers refuse the response.
	CORS *CORS
	// BodyLimit caps request bodies; default DefaultBodyLimit (256 KB).
	BodyLimit int64
	Logger    *slog.Logger
	Now       func() time.Time
}

// Router is an http.ServeMux whose routes all get the standard chain: request id,
// access log, recover, CORS (when configured; preflights end there), body limit,
// auth, rate limit. GET /health (liveness: the
// process answers, touches nothing) and GET /ready (readiness: the store answers)
// are the open routes; unmatched requests get 404/405 problems. The local dev server and each
// Lambda main serve the very same value:
//
//	rt := httpapi.NewRouter(httpapi.Config{Auth: httpcore.APIGateway{}, Limiter: db})
//	rt.Mount("GET /api/v1/conversations", conversations.List(db))
//	lambda.Start(httpadapter.NewV2(rt).ProxyWithContext)
type Router struct {
	mux       *http.ServeMux
	cfg       Config
	outer     []Middleware // request id, access log, recover
	unmatched http.Handler
}

// NewRouter returns a Router with GET /health (and GET /ready with Config.Ready) mounted. It panics without an
// Authenticator, like http.ServeMux panics on a bad pattern: both are wiring bugs.
func NewRouter(cfg Config) *Router {
	if cfg.Auth == nil {
		panic("httpapi: Config.Auth is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rt := &Router{mux: http.NewServeMux(), cfg: cfg,
		outer: []Middleware{RequestIDMiddleware(cfg.Logger), AccessLog(), Recover()}}
	if cfg.CORS != nil {
		// In the outer chain of every route and of unmatched requests, so a preflight
		// is answered whatever its path and before auth, and every answer (problems
		// included) carries the headers.
		rt.outer = append(rt.outer, cfg.CORS.Middleware())
	}
	rt.unmatched = Chain(http.HandlerFunc(rt.serveUnmatched), rt.outer...)
	rt.mux.Handle("GET /health", Chain(http.HandlerFunc(health), rt.outer...))
	if cfg.Ready != nil {
		rt.mux.Handle("GET /ready", Chain(newReadiness(cfg.Ready, cfg.Now), rt.outer...))
	}
	return rt
}

func health(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// RouteOption adjusts one route's chain.
type RouteOption func(*route)

type route struct {
	classOf   func(*http.Request) Class
	bodyLimit int64
	open      bool
	errors    ErrorWriter
}

// ErrorsAs makes every error answer of the route (auth, rate limit, body limit,
// the handler's own through Fail, a panic) go through ew instead of WriteProblem:
// the OpenAI-compatible routes answer in OpenAI's error shape.
func ErrorsAs(ew ErrorWriter) RouteOption { return func(r *route) { r.errors = ew } }

// errorsAs sets the request's ErrorWriter for the rest of the chain.
func errorsAs(ew ErrorWriter) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ri := reqInfo(r.Context()); ri != nil {
				ri.errors = ew
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Open serves the route without a token (like /health and /ready): no auth, so no
// per-user rate limit and no Idempotency-Key either. Only for what any client may
// read before it has a token, such as the OpenAPI document.
func Open() RouteOption { return func(r *route) { r.open = true } }

// RateClass puts the route in a rate-limit class (default ClassOther).
func RateClass(c Class) RouteOption {
	return func(r *route) { r.classOf = func(*http.Request) Class { return c } }
}

// RateClassBy picks the class per request, e.g. stream or chat by WantsStream.
func RateClassBy(f func(*http.Request) Class) RouteOption {
	return func(r *route) { r.classOf = f }
}

// MaxBody overrides the body limit of one route.
func MaxBody(n int64) RouteOption { return func(r *route) { r.bodyLimit = n } }

// Mount registers h for pattern (Go 1.22 ServeMux syntax, e.g. "POST
// /api/v1/workflows/definitions/{id}/execute") behind the standard chain.
func (rt *Router) Mount(pattern string, h http.Handler, opts ...RouteOption) {
	o := route{classOf: func(*http.Request) Class { return ClassOther }, bodyLimit: rt.cfg.BodyLimit}
	for _, f := range opts {
		f(&o)
	}
	ms := append([]Middleware{}, rt.outer...)
	if o.errors != nil {
		ms = append(ms, errorsAs(o.errors))
	}
	ms = append(ms, BodyLimit(o.bodyLimit))
	if o.open {
		rt.mux.Handle(pattern, Chain(h, ms...))
		return
	}
	ms = append(ms, RequireAuth(rt.cfg.Auth))
	if rt.cfg.Limiter != nil {
		ms = append(ms, RateLimit(rt.cfg.Limiter, rt.cfg.Rates, o.classOf, rt.cfg.Now))
	}
	if rt.cfg.Idempotency != nil {
		ms = append(ms, rt.cfg.Idempotency)
	}
	rt.mux.Handle(pattern, Chain(h, ms...))
}

// ServeHTTP dispatches to the mounted routes.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := rt.mux.Handler(r); pattern == "" {
		rt.unmatched.ServeHTTP(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// serveUnmatched lets the mux decide between 404 and 405 (with Allow) and turns its
// plain-text answer into a problem.
func (rt *Router) serveUnmatched(w http.ResponseWriter, r *http.Request) {
	rt.mux.ServeHTTP(&problemOnly{w: w, r: r}, r)
}

// problemOnly replaces the mux's text error with a problem body.
type problemOnly struct {
	w     http.ResponseWriter
	r     *http.Request
	wrote bool
}

func (p *problemOnly) Header() http.Header { return p.w.Header() }

func (p *problemOnly) WriteHeader(status int) {
	if p.wrote {
		return
	}
	p.wrote = true
	e := &Error{Code: errcode.NotFound, Message: "no route for " + p.r.Method + " " + p.r.URL.Path}
	if status == http.StatusMethodNotAllowed {
		e = &Error{Code: errcode.MethodNotAllowed, Message: p.r.Method + " is not allowed here; see Allow"}
	}
	WriteProblem(p.w, problemFor(p.r, e))
}

func (p *problemOnly) Write(b []byte) (int, error) {
	if !p.wrote {
		p.WriteHeader(http.StatusNotFound)
	}
	return len(b), nil
}
