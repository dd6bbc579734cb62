package events_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/wire"
)

type memMarker struct {
	mu   sync.Mutex
	seen map[string]bool
	fail error
}

func (m *memMarker) Mark(_ context.Context, e events.Event) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if m.seen[e.ID] {
		return false, nil
	}
	m.seen[e.ID] = true
	return true, nil
}

func TestOnce_MetricsCountEachEventOnceUnderRedelivery(t *testing.T) {
	evs := []events.Event{
		{ID: "e1", Type: events.NodeExecuted, ExecutionID: "x", UserID: "u", Seq: 1, Time: time.Unix(1, 0),
			Source: events.SourceRef{Kind: "template", ID: "general_chat"}, Data: events.NodeExecutedData{NodeID: "llm", Kind: "llm", DurationMS: 3}},
		{ID: "e2", Type: events.ExecutionCompleted, ExecutionID: "x", UserID: "u", Seq: 2, Time: time.Unix(2, 0),
			Source: events.SourceRef{Kind: "template", ID: "general_chat"}, Data: events.ExecutionEndData{Status: "completed", DurationMS: 9, Usage: wire.Usage{TotalTokens: 5}}},
	}
	run := func(order []events.Event) string {
		var buf bytes.Buffer
		h := events.Once(&memMarker{}, events.Metrics{}.Writer(&buf))
		for _, e := range order {
			if err := h(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		return buf.String()
	}
	once := run(evs)
	twiceReversed := run([]events.Event{evs[1], evs[0], evs[1], evs[0]})
	if strings.Count(once, "\n") != 2 || strings.Count(twiceReversed, "\n") != 2 {
		t.Fatalf("want 2 EMF lines each; once:\n%s\ntwice reversed:\n%s", once, twiceReversed)
	}
	lines := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			m[l] = true
		}
		return m
	}
	a, b := lines(once), lines(twiceReversed)
	for l := range a {
		if !b[l] {
			t.Fatalf("line missing after redelivery: %s", l)
		}
	}
}

func TestOnce_MarkerErrorAsksForRedelivery(t *testing.T) {
	boom := errors.New("table unavailable")
	called := false
	h := events.Once(&memMarker{fail: boom}, func(context.Context, events.Event) error { called = true; return nil })
	if err := h(context.Background(), events.Event{ID: "e"}); !errors.Is(err, boom) || called {
		t.Fatalf("err = %v, called = %t", err, called)
	}
}
