package record_test

import (
	"context"
	"testing"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/store"
)

func TestMarker_FirstDeliveryOnlyPerEventAndUser(t *testing.T) {
	m := record.Marker(store.NewMemory(), nil)
	ctx := context.Background()
	e := events.Event{ID: "01EV", UserID: "alice", Type: events.NodeExecuted}
	for i, want := range []bool{true, false, false} {
		first, err := m.Mark(ctx, e)
		if err != nil || first != want {
			t.Fatalf("delivery %d: first = %t, err = %v; want %t", i+1, first, err, want)
		}
	}
	other := events.Event{ID: "01EV2", UserID: "alice"}
	if first, _ := m.Mark(ctx, other); !first {
		t.Fatal("a different event id was treated as seen")
	}
}
