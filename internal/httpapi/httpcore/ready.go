package httpcore

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Readiness bounds: a check answers within readyTimeout, and one instance asks the
// store at most once per readyCache, so an open route cannot be used to run up
// DynamoDB reads.
const (
	readyTimeout = 2 * time.Second
	readyCache   = 5 * time.Second
)

// readiness serves GET /ready: 200 {"status":"ready"} when the check passes, else a
// 503 problem (code unavailable) that says nothing of the cause; Fail logs it.
type readiness struct {
	check func(context.Context) error
	now   func() time.Time

	mu     sync.Mutex
	at     time.Time
	err    error
	cached bool
}

func newReadiness(check func(context.Context) error, now func() time.Time) *readiness {
	return &readiness{check: check, now: now}
}

func (h *readiness) result(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cached && h.now().Sub(h.at) < readyCache {
		return h.err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	h.err, h.at, h.cached = h.check(cctx), h.now(), true
	return h.err
}

func (h *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.result(r.Context()); err != nil {
		Fail(w, r, &Error{Code: errcode.Unavailable, Message: "the store is not reachable", Err: err,
			Header: http.Header{"Retry-After": {"5"}}})
		return
	}
	WriteJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
}
