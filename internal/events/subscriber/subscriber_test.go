package subscriber_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/subscriber"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

func envelope(t *testing.T, e events.Event) events.Envelope {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return events.Envelope{ID: "env-" + e.ID, Source: events.Source, DetailType: e.Type, Detail: b}
}

func TestSubscribers_RedeliveryChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	now := time.Now().UTC()
	if err := st.CreateExecution(ctx, &store.Execution{ID: "x1", UserID: "u1", ConversationID: "c1",
		Status: store.ExecRunning, StartedAt: now, Source: store.SourceRef{Kind: "template", ID: "general_chat"}}); err != nil {
		t.Fatal(err)
	}
	src := events.SourceRef{Kind: "template", ID: "general_chat"}
	node := events.Event{ID: "e1", Version: 1, Type: events.NodeExecuted, ExecutionID: "x1", UserID: "u1", Source: src, Seq: 1,
		Time: now, Data: events.NodeExecutedData{NodeID: "llm", Kind: "llm", Step: 1, Status: "ok", DurationMS: 2}}
	done := events.Event{ID: "e2", Version: 1, Type: events.ExecutionCompleted, ExecutionID: "x1", UserID: "u1", Source: src, Seq: 2,
		Time: now, Data: events.ExecutionEndData{Status: store.ExecCompleted, DurationMS: 5, Usage: wire.Usage{InputTokens: 3, OutputTokens: 4, TotalTokens: 7, CostKnown: true}}}

	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var emf bytes.Buffer
	rec := subscriber.Record(st, logger)
	met := subscriber.Metrics(st, "Test/NS", &emf, logger)
	for _, e := range []events.Event{done, node, done, node} { // reversed and twice
		env := envelope(t, e)
		if err := rec(ctx, env); err != nil {
			t.Fatal(err)
		}
		if err := met(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	x, err := st.GetExecution(ctx, "u1", "x1")
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != store.ExecCompleted || x.Usage.InputTokens != 3 || x.Usage.OutputTokens != 4 {
		t.Fatalf("record = %+v", x)
	}
	evs, err := st.ListEvents(ctx, "u1", "x1", store.PageRequest{})
	if err != nil || len(evs.Items) != 2 || evs.Items[0].Seq != 1 || evs.Items[1].Seq != 2 {
		t.Fatalf("event log = %+v, %v", evs.Items, err)
	}
	lines := strings.Split(strings.TrimSpace(emf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(emf.String(), `"Test/NS"`) {
		t.Fatalf("want one EMF line per event id in namespace Test/NS, got %d:\n%s", len(lines), emf.String())
	}
}
