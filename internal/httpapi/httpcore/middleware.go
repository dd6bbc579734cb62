package httpcore

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/requestid"

	"github.com/oklog/ulid/v2"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies ms so that ms[0] is the outermost.
func Chain(h http.Handler, ms ...Middleware) http.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}

// LogWith adds attrs to the request's logger, so the lines that follow (the
// access log too) carry them: a chat request's lines get its run's execution_id.
// Call it from the request's goroutine, with nothing else logging meanwhile.
func LogWith(ctx context.Context, args ...any) {
	if ri := reqInfo(ctx); ri != nil && ri.log != nil {
		ri.log = ri.log.With(args...)
	}
}

// requestInfo is the per-request state the middleware share: one context value,
// so the access log written on the way out sees the user the auth step found.
type requestInfo struct {
	id     string
	userID string
	log    *slog.Logger
	rw     *responseWriter
	// errors writes the route's error answers (ErrorsAs); nil: WriteProblem.
	errors ErrorWriter
}

type infoKey struct{}

func reqInfo(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(infoKey{}).(*requestInfo)
	return ri
}

// RequestID returns the request id, or "" outside the middleware chain.
func RequestID(ctx context.Context) string {
	if ri := reqInfo(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// UserID returns the authenticated user's id, or "" when the request was not
// authenticated.
func UserID(ctx context.Context) string {
	if ri := reqInfo(ctx); ri != nil {
		return ri.userID
	}
	return ""
}

// HeaderRequestID is echoed when valid, else set to a new ULID.
const HeaderRequestID = "X-Request-Id"

// RequestIDMiddleware puts the request id (the client's X-Request-Id when it is a
// plain token, else a new ULID) into the context, the response header and the
// request's logger.
func RequestIDMiddleware(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if reqInfo(r.Context()) != nil {
				next.ServeHTTP(w, r)
				return
			}
			id := r.Header.Get(HeaderRequestID)
			if !wire.ValidID(id) { // the shape of every id: nothing to inject into logs or headers
				id = ulid.Make().String()
			}
			rw := &responseWriter{ResponseWriter: w}
			ri := &requestInfo{id: id, log: logger.With("request_id", id), rw: rw}
			w.Header().Set(HeaderRequestID, id)
			// The id travels into the events of a run this request starts.
			ctx := requestid.With(context.WithValue(r.Context(), infoKey{}, ri), id)
			next.ServeHTTP(rw, r.WithContext(ctx))
		})
	}
}

// responseWriter records the status for the access log and whether the header went
// out (a panic after it can no longer become a problem response). Unwrap keeps
// http.ResponseController (Flush for SSE) working through it.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// AccessLog writes one JSON line per request: method, route pattern, status,
// duration, request id, user id. Never headers (Authorization) or bodies.
func AccessLog() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			next.ServeHTTP(w, r)
			ri := reqInfo(r.Context())
			if ri == nil {
				return // outside RequestIDMiddleware there is nothing to log with
			}
			status := ri.rw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			ri.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int64("bytes", ri.rw.bytes)) // user_id: on ri.log once authenticated (auth.go)
		})
	}
}

// Recover turns a panic into a 500 problem (or, when the response has already
// started, ends it), logged once with its stack. http.ErrAbortHandler passes
// through, as net/http expects.
func Recover() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				Logger(r.Context()).Error("panic", "panic", v, "stack", string(debug.Stack()))
				if ri := reqInfo(r.Context()); ri != nil && ri.rw.status != 0 {
					return
				}
				writeError(w, r, problemFor(r, &Error{Code: errcode.Internal}))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// DefaultBodyLimit caps request bodies.
const DefaultBodyLimit = 256 << 10

// BodyLimit caps the request body at n bytes: a declared Content-Length over it is
// refused at once, and reading past it fails with *http.MaxBytesError, which
// Decode and Fail turn into 413.
func BodyLimit(n int64) Middleware {
	if n <= 0 {
		n = DefaultBodyLimit
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				Fail(w, r, tooLarge(n))
				return
			}
			r2 := *r // handlers never modify the request they were given
			r2.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, &r2)
		})
	}
}
