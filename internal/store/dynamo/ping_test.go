package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/store/dynamo"
)

func TestPing_AnswersForTheTableAndFailsWithoutIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, cnt := client(t)
	name := table(t)
	cnt.reset()
	if err := dynamo.New(db, name, dynamo.Options{}).Ping(ctx); err != nil {
		t.Fatalf("Ping on %s: %v", name, err)
	}
	if calls := cnt.reset(); calls["GetItem"] != 1 || len(calls) != 1 {
		t.Errorf("Ping made %v, want one GetItem", calls)
	}
	if err := dynamo.New(db, "chatter-no-such-table", dynamo.Options{}).Ping(ctx); err == nil {
		t.Error("Ping on a missing table: no error")
	}
}
