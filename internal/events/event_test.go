package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/wire"
)

func TestRecorder_KeepsEventsInOrderAndCopies(t *testing.T) {
	r := &events.Recorder{}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		r.Emit(ctx, events.Event{Seq: i, Type: events.NodeExecuted})
	}
	got := r.Events()
	if len(got) != 3 || got[0].Seq != 1 || got[2].Seq != 3 {
		t.Fatalf("events = %+v", got)
	}
	got[0].Seq = 99
	if r.Events()[0].Seq != 1 {
		t.Fatal("Events returned the recorder's own slice")
	}
	if err := r.Flush(ctx, "x1"); err != nil {
		t.Fatal(err)
	}
	r.Reset()
	if len(r.Events()) != 0 {
		t.Fatal("Reset kept events")
	}
}

func TestEvent_TerminalTypes(t *testing.T) {
	for typ, want := range map[string]bool{events.ExecutionCompleted: true, events.ExecutionFailed: true,
		events.ExecutionCancelled: true, events.NodeExecuted: false, events.ExecutionStarted: false} {
		e := events.Event{Type: typ}
		if e.Terminal() != want {
			t.Errorf("%s: Terminal() = %t", typ, !want)
		}
	}
}

func TestEvent_DetailJSONShape(t *testing.T) {
	e := events.Event{ID: "01J", Version: events.SchemaVersion, Type: events.TokenUsage, ExecutionID: "x", UserID: "u",
		ConversationID: "c", Source: events.SourceRef{Kind: "template", ID: "general_chat"}, Seq: 7,
		Time: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
		Data: events.TokenUsageData{NodeID: "llm", Provider: "openai", Model: "gpt-4o", Usage: wire.Usage{InputTokens: 3, OutputTokens: 4, Cost: 0.1, CostKnown: true}}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "version", "type", "execution_id", "user_id", "conversation_id", "source", "seq", "time", "data"} {
		if _, ok := m[k]; !ok {
			t.Errorf("detail lacks %q: %s", k, b)
		}
	}
	data := m["data"].(map[string]any)
	if data["input_tokens"].(float64) != 3 || data["cost_known"] != true {
		t.Errorf("data = %v", data)
	}
}
