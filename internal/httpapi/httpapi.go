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
// what needs the store: store errors (AsError, Fail, ProblemOf), Idempotency-Key,
// pages, and the router that wires Idempotency-Key in (NewRouter). Handlers import
// each package for what it owns.
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

// The store's adapters are limiters.
var _ httpcore.Limiter = (*store.Memory)(nil)

// Config is what every route of a function shares: httpcore.Config's fields, with
// Idempotency as the store that keeps Idempotency-Key answers.
type Config struct {
	Auth      httpcore.Authenticator
	Limiter   httpcore.Limiter
	Rates     map[httpcore.Class]httpcore.Rate
	Ready     func(context.Context) error
	CORS      *httpcore.CORS
	BodyLimit int64
	Logger    *slog.Logger
	Now       func() time.Time
	// Idempotency keeps Idempotency-Key answers of POST routes; nil ignores the header.
	Idempotency IdempotencyStore
}

// NewRouter is httpcore.NewRouter with the Idempotency-Key middleware of
// cfg.Idempotency on every authenticated route.
func NewRouter(cfg Config) *httpcore.Router {
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
func AsError(err error) *httpcore.Error {
	var e *httpcore.Error
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
	e = &httpcore.Error{Code: code, Message: se.Message, Err: err}
	if se.Field != "" && code != errcode.Storage {
		e.Errors = []httpcore.FieldError{{Field: se.Field, Code: code, Message: se.Message}}
	}
	return e
}

// Fail writes err (classified by AsError) as a problem response; see httpcore.Fail.
func Fail(w http.ResponseWriter, r *http.Request, err error) { httpcore.Fail(w, r, AsError(err)) }

// ProblemOf is the problem body Fail writes for err, for a handler that must
// write it in another shape or place (an error frame of a stream that started).
func ProblemOf(r *http.Request, err error) *httpcore.Problem {
	return httpcore.ProblemOf(r, AsError(err))
}
