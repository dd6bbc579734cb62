package record

import (
	"context"
	"errors"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/store"
)

// Seen is the store method Marker needs: a put-if-absent record with a TTL.
type Seen interface {
	CreateIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
}

// MarkerTTL is how long an event id is remembered; EventBridge retries for at most
// 24 hours.
const MarkerTTL = 48 * time.Hour

// Marker remembers delivered event ids in the table (an idempotency record per
// event, expiring after MarkerTTL), for events.Once.
func Marker(s Seen, now func() time.Time) events.Marker {
	if now == nil {
		now = time.Now
	}
	return events.MarkerFunc(func(ctx context.Context, e events.Event) (bool, error) {
		if e.UserID == "" || e.ID == "" {
			return true, nil // cannot be remembered; count it
		}
		t := now()
		err := s.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: e.UserID, Key: "event:" + e.ID,
			RequestHash: e.Type, State: store.IdemDone, CreatedAt: t, ExpiresAt: t.Add(MarkerTTL)})
		if errors.Is(err, store.ErrConflict) {
			return false, nil
		}
		return err == nil, err
	})
}
