package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

func testCheckpoints(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	exec, other := uid("ex"), uid("ex")
	state := []byte(`{"step":3,"vars":{"x":1}}`)
	expires := c.Now().Add(time.Hour)
	must(t, "PutCheckpoint", r.PutCheckpoint(tctx, user, conv, exec, state, expires))
	must(t, "PutCheckpoint other", r.PutCheckpoint(tctx, user, conv, other, []byte(`{}`), expires))
	got, err := r.Checkpoint(tctx, user, conv, exec)
	if err != nil || !bytes.Equal(got, state) {
		t.Fatalf("Checkpoint = %s, %v; want %s", got, err, state)
	}
	if _, msgs, err := r.LoadConversation(tctx, user, conv, 10); err != nil || len(msgs) != 2 {
		t.Fatalf("a checkpoint in the partition changed the history: %d messages, %v", len(msgs), err)
	}
	if _, err := r.Checkpoint(tctx, "someone-else", conv, exec); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's read: %v, want not_found", err)
	}
	replaced := []byte(`{"step":5}`)
	must(t, "PutCheckpoint again", r.PutCheckpoint(tctx, user, conv, exec, replaced, expires))
	if got, err := r.Checkpoint(tctx, user, conv, exec); err != nil || !bytes.Equal(got, replaced) {
		t.Fatalf("after a second put: %s, %v", got, err)
	}
	big := bytes.Repeat([]byte("x"), store.MaxCheckpointBytes+1)
	if err := r.PutCheckpoint(tctx, user, conv, uid("ex"), big, expires); code(err) != errcode.TooLarge {
		t.Fatalf("oversize checkpoint: %v, want too_large", err)
	}
	c.Advance(time.Hour + time.Second)
	if _, err := r.Checkpoint(tctx, user, conv, exec); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after it expired: %v, want not_found", err)
	}
	must(t, "PutCheckpoint fresh", r.PutCheckpoint(tctx, user, conv, other, state, c.Now().Add(time.Hour)))
	must(t, "DeleteConversation", r.DeleteConversation(tctx, user, conv))
	if _, err := r.Checkpoint(tctx, user, conv, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the conversation delete: %v, want not_found", err)
	}
}
