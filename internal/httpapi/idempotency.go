package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

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
}

// IdempotencyTTL is how long a key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// maxReplayBytes bounds a response kept for replay; a larger one is not kept (the
// key then stays in progress until it expires, and a retry is told so).
const maxReplayBytes = 256 << 10

// Idempotency makes a POST with an Idempotency-Key header safe to retry: the first
// request runs and its status and body are kept for IdempotencyTTL; a retry with the
// same key and the same request gets that answer again (header Idempotent-Replayed:
// true) instead of running twice — a chat retried after a timeout is not sent to the
// model again. The same key with a different request, or while the first is still
// running, is a 409. Streaming requests are not replayable and ignore the header.
// Keys are per user. If the key cannot be stored the request is served without it
// (logged), like the rate limiter's fail-open.
func Idempotency(s IdempotencyStore, now func() time.Time) Middleware {
	if now == nil {
		now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get(HeaderIdempotencyKey)
			if key == "" || r.Method != http.MethodPost || WantsStream(r) {
				next.ServeHTTP(w, r)
				return
			}
			if len(key) > 255 {
				Fail(w, r, FieldErr(CodeInvalid, HeaderIdempotencyKey, "must be at most 255 characters"))
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				Fail(w, r, err)
				return
			}
			sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.RequestURI()+"\n"), body...))
			rec := &store.IdempotencyRecord{UserID: UserID(r.Context()), Key: key, RequestHash: hex.EncodeToString(sum[:]),
				State: store.IdemInProgress, CreatedAt: now(), ExpiresAt: now().Add(IdempotencyTTL)}
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(bytes.NewReader(body))
			if err := s.CreateIdempotency(r.Context(), rec); err != nil {
				if errors.Is(err, store.ErrConflict) {
					replay(w, r, s, rec)
					return
				}
				// Fail open, as the rate limiter does: the key cannot be kept (a
				// read-only function may not write it, or the table is unavailable),
				// but the request itself is fine.
				Logger(r.Context()).Warn("idempotency key not kept; serving without it", "err", err)
				next.ServeHTTP(w, r2)
				return
			}
			cw := &captureWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(cw, r2)
			if cw.overflow {
				return
			}
			rec.State, rec.StatusCode, rec.Response = store.IdemDone, cw.status, cw.buf.Bytes()
			if err := s.CompleteIdempotency(context.WithoutCancel(r.Context()), rec); err != nil {
				Logger(r.Context()).Warn("keeping the idempotent response", "key_hash", rec.RequestHash[:12], "err", err)
			}
		})
	}
}

// replay answers a retry from the kept record.
func replay(w http.ResponseWriter, r *http.Request, s IdempotencyStore, rec *store.IdempotencyRecord) {
	old, err := s.GetIdempotency(r.Context(), rec.UserID, rec.Key)
	switch {
	case errors.Is(err, store.ErrNotFound): // expired between the two calls
		Fail(w, r, FieldErr(CodeConflict, HeaderIdempotencyKey, "the key expired while this request arrived; retry"))
	case err != nil:
		Fail(w, r, err)
	case old.RequestHash != rec.RequestHash:
		Fail(w, r, FieldErr(CodeConflict, HeaderIdempotencyKey, "this key was used for a different request"))
	case old.State != store.IdemDone:
		Fail(w, r, FieldErr(CodeConflict, HeaderIdempotencyKey, "a request with this key is still running"))
	default:
		ct := "application/json"
		if old.StatusCode >= 400 {
			ct = "application/problem+json"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set(HeaderIdempotentReplayed, "true")
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
		if c.buf.Len()+len(b) > maxReplayBytes {
			c.overflow = true
			c.buf.Reset()
		} else {
			c.buf.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
