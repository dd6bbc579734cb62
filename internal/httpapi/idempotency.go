package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

// IdempotencyStore keeps Idempotency-Key records (the DynamoDB store and the
// in-memory one both do).
type IdempotencyStore interface {
	// CreateIdempotency stores an in-progress record. Returns conflict if a live
	// record with that key exists.
	CreateIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
	// GetIdempotency returns a live record. Returns not_found otherwise.
	GetIdempotency(ctx context.Context, userID, key string) (*store.IdempotencyRecord, error)
	// CompleteIdempotency stores the response of an in-progress record.
	CompleteIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
	// ReleaseIdempotency deletes the in-progress record of r's request. Returns
	// not_found if there is none (a completed record is never released).
	ReleaseIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
}

// IdempotencyTTL is how long a key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// MaxReplayBytes bounds a response kept for replay (store.MaxResponseBytes, the
// item budget); a larger answer is not kept and its key is released.
const MaxReplayBytes = store.MaxResponseBytes

// Replayable reports whether an answer with this status is kept for replay: only a
// completed answer is — a 2xx, or a 4xx the request itself caused (400, 401, 403,
// 404, 410, 413, 422, ...), which the same request would meet again. Not kept, so a
// retry runs anew: 408 (timeout), 409 (a conflict with a concurrent write, which a
// retry may not meet), 425 and 429 (the server's state, not the request's), 499
// (the client left and the run was cancelled), every 5xx, and 1xx/3xx.
func Replayable(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests, status == errcode.StatusClientClosed:
		return false
	}
	return status >= 400 && status < 500
}

// Idempotency makes a POST with an Idempotency-Key header safe to retry: the first
// request runs and, when its answer is Replayable and at most MaxReplayBytes, its
// status and body are kept for IdempotencyTTL; a retry with the same key and the
// same request gets that answer again (header Idempotent-Replayed: true) instead of
// running twice — a chat retried after a timeout is not sent to the model again.
// A first request that ends without such an answer (cancelled because the client
// gave up, a 5xx, a panic, an answer too large to keep) releases its key at once,
// so the retry — the documented use after a timeout — runs anew. An answer that
// names a conversation is deleted with it (see conversationOf). The same key with
// a different request, or while the first is still running, is a 409. Streaming
// requests are not replayable and ignore the header. Keys are per user. If the key
// cannot be stored the request is served without it (logged), like the rate
// limiter's fail-open.
func Idempotency(s IdempotencyStore, now func() time.Time) httpcore.Middleware {
	if now == nil {
		now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get(httpcore.HeaderIdempotencyKey)
			if key == "" || r.Method != http.MethodPost || httpcore.WantsStream(r) {
				next.ServeHTTP(w, r)
				return
			}
			if len(key) > 255 {
				Fail(w, r, httpcore.FieldErr(errcode.InvalidInput, httpcore.HeaderIdempotencyKey, "must be at most 255 characters"))
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				Fail(w, r, err)
				return
			}
			sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.RequestURI()+"\n"), body...))
			rec := &store.IdempotencyRecord{UserID: httpcore.UserID(r.Context()), Key: key, RequestHash: hex.EncodeToString(sum[:]),
				State: store.IdemInProgress, CreatedAt: now(), ExpiresAt: now().Add(IdempotencyTTL)}
			r2 := r.Clone(context.WithValue(r.Context(), idemCtxKey{}, &store.IdempotencyRef{Key: rec.Key, RequestHash: rec.RequestHash}))
			r2.Body = io.NopCloser(bytes.NewReader(body))
			if err := s.CreateIdempotency(r.Context(), rec); err != nil {
				if errors.Is(err, store.ErrConflict) {
					replay(w, r, s, rec)
					return
				}
				// Fail open, as the rate limiter does: the key cannot be kept (a
				// read-only function may not write it, or the table is unavailable),
				// but the request itself is fine.
				httpcore.Logger(r.Context()).Warn("idempotency key not kept; serving without it", "err", err)
				next.ServeHTTP(w, r2.WithContext(r.Context()))
				return
			}
			cw := &captureWriter{ResponseWriter: w, status: http.StatusOK}
			kept := false
			// Deferred, so a panic (on its way to Recover) releases the key too.
			defer func() {
				if !kept {
					release(r, s, rec)
				}
			}()
			next.ServeHTTP(cw, r2)
			if cw.overflow || !Replayable(cw.status) {
				return
			}
			rec.State, rec.StatusCode, rec.Response = store.IdemDone, cw.status, cw.buf.Bytes()
			rec.ConversationID = conversationOf(rec.Response)
			if err := s.CompleteIdempotency(context.WithoutCancel(r.Context()), rec); err != nil {
				httpcore.Logger(r.Context()).Warn("keeping the idempotent response", "key_hash", rec.RequestHash[:12], "err", err)
				return
			}
			kept = true
		})
	}
}

type idemCtxKey struct{}

// IdempotencyOf names the in-progress Idempotency-Key record of the request ctx
// belongs to, nil when it has none: a run keeps it on its execution, so a sweep
// that ends the run after its instance died releases the key (see
// executor.Sweeper).
func IdempotencyOf(ctx context.Context) *store.IdempotencyRef {
	ref, _ := ctx.Value(idemCtxKey{}).(*store.IdempotencyRef)
	return ref
}

// release frees the key of a request that ended without an answer to keep. It
// runs after the client may have gone, so it does not use the request's context.
func release(r *http.Request, s IdempotencyStore, rec *store.IdempotencyRecord) {
	if err := s.ReleaseIdempotency(context.WithoutCancel(r.Context()), rec); err != nil {
		httpcore.Logger(r.Context()).Warn("releasing the idempotency key", "key_hash", rec.RequestHash[:12], "err", err)
	}
}

// conversationOf is the top-level conversation_id of a JSON answer, or "". A kept
// answer naming a conversation is tied to it: it is not kept if the conversation
// was deleted meanwhile (the key is released), and it goes when the conversation
// is deleted later.
func conversationOf(body []byte) string {
	var v struct {
		ConversationID string `json:"conversation_id"`
	}
	_ = json.Unmarshal(body, &v) // not JSON, or not an object: nothing to tie
	return v.ConversationID
}

// replay answers a retry from the kept record.
func replay(w http.ResponseWriter, r *http.Request, s IdempotencyStore, rec *store.IdempotencyRecord) {
	old, err := s.GetIdempotency(r.Context(), rec.UserID, rec.Key)
	switch {
	case errors.Is(err, store.ErrNotFound): // expired between the two calls
		Fail(w, r, httpcore.FieldErr(errcode.Conflict, httpcore.HeaderIdempotencyKey, "the key expired while this request arrived; retry"))
	case err != nil:
		Fail(w, r, err)
	case old.RequestHash != rec.RequestHash:
		Fail(w, r, httpcore.FieldErr(errcode.Conflict, httpcore.HeaderIdempotencyKey, "this key was used for a different request"))
	case old.State != store.IdemDone:
		Fail(w, r, httpcore.FieldErr(errcode.Conflict, httpcore.HeaderIdempotencyKey, "a request with this key is still running"))
	default:
		ct := "application/json"
		if old.StatusCode >= 400 {
			ct = "application/problem+json"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set(httpcore.HeaderIdempotentReplayed, "true")
		w.WriteHeader(old.StatusCode)
		_, _ = w.Write(old.Response)
	}
}

// captureWriter passes a response through and keeps a copy of it.
type captureWriter struct {
	http.ResponseWriter
	status   int
	wrote    bool
	buf      bytes.Buffer
	overflow bool
}

func (c *captureWriter) WriteHeader(status int) {
	if !c.wrote {
		c.status, c.wrote = status, true
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.wrote = true
	if !c.overflow {
		if c.buf.Len()+len(b) > MaxReplayBytes {
			c.overflow = true
			c.buf.Reset()
		} else {
			c.buf.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
