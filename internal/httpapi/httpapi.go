// Package httpapi is the HTTP layer every chatter function shares: RFC 9457 problem
// responses with stable codes, the middleware chain (request id, recover, access log,
// CORS, body limit, auth, rate limits, Idempotency-Key), JSON decoding, pagination,
// the SSE writer and route registration. A route mounted with ErrorsAs answers its
// errors in another API's shape (the OpenAI-compatible /v1 routes: OpenAI's error
// object), every error of its chain included. The CORS policy (origins, and the one list
// of methods and headers the template's gateways also use) is documented on CORS. It
// imports neither the executor nor any LLM SDK, so CRUD functions stay small; the
// execution handlers live in httpapi/chat.
//
// What needs no storage (the router, middleware, problems, auth, CORS, decoding,
// SSE) lives in httpapi/httpcore, which imports no store, so the health function
// links neither the store nor, through it, workflow and expr; this package adds
// store errors (AsError, Fail), Idempotency-Key and pages, and names the rest as
// httpcore does, so handlers write httpapi.X for all of it.
//
// Idempotency-Key keeps completed answers only (Replayable: 2xx, and 4xx the request
// caused — not 408, 409, 425, 429 or 499 — up to MaxReplayBytes); a first request
// that ends otherwise releases its key at once, so the retry runs anew. An answer
// naming a conversation goes when the conversation is deleted. Logs carry ids,
// statuses, sizes, codes and durations, never a request or response body.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// The names of httpcore, as every handler uses them.
type (
	Authenticator = httpcore.Authenticator
	APIGateway    = httpcore.APIGateway
	CORS          = httpcore.CORS
	Class         = httpcore.Class
	Error         = httpcore.Error
	ErrorWriter   = httpcore.ErrorWriter
	FieldError    = httpcore.FieldError
	Limiter       = httpcore.Limiter
	Middleware    = httpcore.Middleware
	Problem       = httpcore.Problem
	Rate          = httpcore.Rate
	RouteOption   = httpcore.RouteOption
	Router        = httpcore.Router
	SSE           = httpcore.SSE
)

const (
	ClassChat         = httpcore.ClassChat
	ClassStream       = httpcore.ClassStream
	ClassOther        = httpcore.ClassOther
	CORSMaxAge        = httpcore.CORSMaxAge
	DefaultBodyLimit  = httpcore.DefaultBodyLimit
	DefaultHeartbeat  = httpcore.DefaultHeartbeat
	ProblemTypePrefix = httpcore.ProblemTypePrefix

	HeaderRequestID          = httpcore.HeaderRequestID
	HeaderIdempotencyKey     = httpcore.HeaderIdempotencyKey
	HeaderIdempotentReplayed = httpcore.HeaderIdempotentReplayed
	HeaderLastEventID        = httpcore.HeaderLastEventID
	HeaderRetryAfter         = httpcore.HeaderRetryAfter
	HeaderRateLimitLimit     = httpcore.HeaderRateLimitLimit
	HeaderRateLimitRemaining = httpcore.HeaderRateLimitRemaining
	HeaderRateLimitReset     = httpcore.HeaderRateLimitReset
	HeaderTotalCount         = httpcore.HeaderTotalCount
	HeaderLink               = httpcore.HeaderLink
	HeaderExecutionID        = httpcore.HeaderExecutionID
	HeaderConversationID     = httpcore.HeaderConversationID
)

var (
	// DefaultRates is httpcore.DefaultRates (the same map).
	DefaultRates = httpcore.DefaultRates
	// ErrStreamClosed is httpcore.ErrStreamClosed.
	ErrStreamClosed = httpcore.ErrStreamClosed
)

// The store's adapters are limiters.
var _ Limiter = (*store.Memory)(nil)

// Config is what every route of a function shares: httpcore.Config's fields, with
// Idempotency as the store that keeps Idempotency-Key answers.
type Config struct {
	Auth      Authenticator
	Limiter   Limiter
	Rates     map[Class]Rate
	Ready     func(context.Context) error
	CORS      *CORS
	BodyLimit int64
	Logger    *slog.Logger
	Now       func() time.Time
	// Idempotency keeps Idempotency-Key answers of POST routes; nil ignores the header.
	Idempotency IdempotencyStore
}

// NewRouter is httpcore.NewRouter with the Idempotency-Key middleware of
// cfg.Idempotency on every authenticated route.
func NewRouter(cfg Config) *Router {
	c := httpcore.Config{Auth: cfg.Auth, Limiter: cfg.Limiter, Rates: cfg.Rates, Ready: cfg.Ready, CORS: cfg.CORS,
		BodyLimit: cfg.BodyLimit, Logger: cfg.Logger, Now: cfg.Now}
	if cfg.Idempotency != nil {
		c.Idempotency = Idempotency(cfg.Idempotency, cfg.Now)
	}
	return httpcore.NewRouter(c)
}

// AsError classifies any error as an *Error: a store error by its code (not_found,
// conflict, too_large and invalid_input as they are, any other as storage_error),
// the rest as httpcore.AsError does.
func AsError(err error) *Error {
	var e *Error
	var se *store.Error
	if errors.As(err, &e) || !errors.As(err, &se) {
		return httpcore.AsError(err)
	}
	code := se.Code
	switch code {
	case errcode.NotFound, errcode.Conflict, errcode.TooLarge, errcode.InvalidInput:
	default:
		code = errcode.Storage
	}
	e = &Error{Code: code, Message: se.Message, Err: err}
	if se.Field != "" && code != errcode.Storage {
		e.Errors = []FieldError{{Field: se.Field, Code: code, Message: se.Message}}
	}
	return e
}

// Fail writes err (classified by AsError) as a problem response; see httpcore.Fail.
func Fail(w http.ResponseWriter, r *http.Request, err error) { httpcore.Fail(w, r, AsError(err)) }

// ProblemOf is the problem body Fail writes for err, for a handler that must
// write it in another shape or place (an error frame of a stream that started).
func ProblemOf(r *http.Request, err error) *Problem { return httpcore.ProblemOf(r, AsError(err)) }

// FieldErr is httpcore.FieldErr.
func FieldErr(code, field, message string) *Error { return httpcore.FieldErr(code, field, message) }

// WriteJSON is httpcore.WriteJSON.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	httpcore.WriteJSON(w, r, status, v)
}

// WriteProblem is httpcore.WriteProblem.
func WriteProblem(w http.ResponseWriter, p *Problem) { httpcore.WriteProblem(w, p) }

// Decode is httpcore.Decode.
func Decode(r *http.Request, v any) error { return httpcore.Decode(r, v) }

// DecodeValue is httpcore.DecodeValue.
func DecodeValue(b []byte, v any, at string) error { return httpcore.DecodeValue(b, v, at) }

// Pointer is httpcore.Pointer.
func Pointer(dotted string) string { return httpcore.Pointer(dotted) }

// Chain is httpcore.Chain.
func Chain(h http.Handler, ms ...Middleware) http.Handler { return httpcore.Chain(h, ms...) }

// Logger is httpcore.Logger.
func Logger(ctx context.Context) *slog.Logger { return httpcore.Logger(ctx) }

// LogWith is httpcore.LogWith.
func LogWith(ctx context.Context, args ...any) { httpcore.LogWith(ctx, args...) }

// RequestID is httpcore.RequestID.
func RequestID(ctx context.Context) string { return httpcore.RequestID(ctx) }

// UserID is httpcore.UserID.
func UserID(ctx context.Context) string { return httpcore.UserID(ctx) }

// Middleware constructors of httpcore.
func AccessLog() Middleware                              { return httpcore.AccessLog() }
func BodyLimit(n int64) Middleware                       { return httpcore.BodyLimit(n) }
func Recover() Middleware                                { return httpcore.Recover() }
func RequestIDMiddleware(logger *slog.Logger) Middleware { return httpcore.RequestIDMiddleware(logger) }
func RequireAuth(a Authenticator) Middleware             { return httpcore.RequireAuth(a) }
func RateLimit(l Limiter, rates map[Class]Rate, classOf func(*http.Request) Class, now func() time.Time) Middleware {
	return httpcore.RateLimit(l, rates, classOf, now)
}

// Route options of httpcore.
func ErrorsAs(ew ErrorWriter) RouteOption                 { return httpcore.ErrorsAs(ew) }
func MaxBody(n int64) RouteOption                         { return httpcore.MaxBody(n) }
func Open() RouteOption                                   { return httpcore.Open() }
func RateClass(c Class) RouteOption                       { return httpcore.RateClass(c) }
func RateClassBy(f func(*http.Request) Class) RouteOption { return httpcore.RateClassBy(f) }

// CORS of httpcore.
func NewCORS(origins []string) (*CORS, error) { return httpcore.NewCORS(origins) }
func LoopbackOrigins() []string               { return httpcore.LoopbackOrigins() }
func CORSMethods() []string                   { return httpcore.CORSMethods() }
func CORSAllowHeaders() []string              { return httpcore.CORSAllowHeaders() }
func CORSExposeHeaders() []string             { return httpcore.CORSExposeHeaders() }
func CORSUnexposed(h http.Header) []string    { return httpcore.CORSUnexposed(h) }
func IsPreflight(r *http.Request) bool        { return httpcore.IsPreflight(r) }

// SSE of httpcore.
func NewSSE(w http.ResponseWriter, heartbeat time.Duration) *SSE {
	return httpcore.NewSSE(w, heartbeat)
}
func WantsStream(r *http.Request) bool { return httpcore.WantsStream(r) }
