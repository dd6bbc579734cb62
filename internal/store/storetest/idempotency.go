package storetest

import (
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

// testIdempotencyRelease: a request that ended without a storable answer releases
// its in-progress record, and only that: not a completed one, not another
// request's, not an expired one.
func testIdempotencyRelease(t *testing.T, r Repo, c *Clock) {
	user, k := uid("u"), uid("idem")
	newRec := func(hash string) *store.IdempotencyRecord {
		return &store.IdempotencyRecord{UserID: user, Key: k, RequestHash: hash, CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}
	}
	must(t, "CreateIdempotency", r.CreateIdempotency(ctx, newRec("h1")))
	wantCode(t, "ReleaseIdempotency of another request", r.ReleaseIdempotency(ctx, newRec("h2")), errcode.NotFound)
	if got, err := r.GetIdempotency(ctx, user, k); err != nil || got.State != store.IdemInProgress {
		t.Fatalf("a release with another request hash touched the record: %+v, %v", got, err)
	}
	must(t, "ReleaseIdempotency", r.ReleaseIdempotency(ctx, newRec("h1")))
	_, err := r.GetIdempotency(ctx, user, k)
	wantCode(t, "GetIdempotency after release", err, errcode.NotFound)
	wantCode(t, "ReleaseIdempotency twice", r.ReleaseIdempotency(ctx, newRec("h1")), errcode.NotFound)

	// The retry runs anew: the key is free, and its answer is kept as usual.
	must(t, "CreateIdempotency after release", r.CreateIdempotency(ctx, newRec("h1")))
	must(t, "CompleteIdempotency after release", r.CompleteIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k,
		StatusCode: 200, Response: []byte(`{"ok":1}`)}))
	wantCode(t, "ReleaseIdempotency of a completed record", r.ReleaseIdempotency(ctx, newRec("h1")), errcode.NotFound)
	if got, err := r.GetIdempotency(ctx, user, k); err != nil || got.State != store.IdemDone || string(got.Response) != `{"ok":1}` {
		t.Fatalf("a completed record was released: %+v, %v", got, err)
	}

	// An expired in-progress record is not live: there is nothing to release.
	k2 := uid("idem")
	must(t, "CreateIdempotency", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k2, RequestHash: "h",
		CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Minute)}))
	c.Advance(time.Minute)
	wantCode(t, "ReleaseIdempotency after expiry", r.ReleaseIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k2,
		RequestHash: "h"}), errcode.NotFound)
	wantCode(t, "ReleaseIdempotency of an unknown key", r.ReleaseIdempotency(ctx, &store.IdempotencyRecord{UserID: user,
		Key: uid("idem"), RequestHash: "h"}), errcode.NotFound)
	wantCode(t, "ReleaseIdempotency without a request hash", r.ReleaseIdempotency(ctx, &store.IdempotencyRecord{UserID: user,
		Key: k}), errcode.InvalidInput)
}
