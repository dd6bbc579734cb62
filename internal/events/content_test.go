package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/wire"
)

const secret = "zebra-quartz"

// oneOfEach is an event of every type, every text field that could hold content
// set to secret.
func oneOfEach() []events.Event {
	end := events.ExecutionEndData{Status: "failed", ErrorCode: "node_failed", ErrorMessage: "tools: " + secret, Output: "You said: " + secret + ".", Usage: wire.Usage{InputTokens: 3, OutputTokens: 4, TotalTokens: 7, Cost: 0.25}}
	data := map[string]any{
		events.WorkflowStarted:    events.WorkflowStartedData{Mode: "standard", Nodes: 3, Message: 12},
		events.LLMLoaded:          events.LLMLoadedData{Provider: "devllm", Model: "echo"},
		events.ToolsLoaded:        events.ToolsLoadedData{Tools: []string{"calculator"}},
		events.RetrieverLoaded:    events.RetrieverLoadedData{DocumentIDs: []string{"d1"}},
		events.ExecutionStarted:   nil,
		events.NodeExecuted:       events.NodeExecutedData{NodeID: "n", Kind: "tools", Status: "error", Error: secret},
		events.ToolCalled:         events.ToolCalledData{NodeID: "n", CallID: "c1", Tool: "calculator", IsError: true},
		events.TokenUsage:         events.TokenUsageData{NodeID: "n", Usage: wire.Usage{InputTokens: 3, OutputTokens: 4}},
		events.MessageSaved:       events.MessageSavedData{MessageID: "m1", Role: "assistant", Seq: 2},
		events.SummaryFailed:      events.SummaryFailedData{NodeID: "memory", ErrorCode: "unavailable", FromSeq: 4, ThroughSeq: 6},
		events.ExecutionWaiting:   events.ExecutionWaitingData{NodeID: "ask", Input: "text", Steps: 2},
		events.ExecutionResumed:   events.ExecutionResumedData{NodeID: "ask", Input: "text", TextBytes: 9, ResumedBy: "u1", WaitedMS: 5},
		events.ExecutionCompleted: end,
		events.ExecutionFailed:    &end,
		events.ExecutionCancelled: end,
		"from_the_future":         json.RawMessage(`{"text":"` + secret + `"}`),
	}
	var out []events.Event
	for typ, d := range data {
		out = append(out, events.Event{ID: "e-" + typ, Type: typ, ExecutionID: "x1", UserID: "u1", ConversationID: "c1", Seq: 1, Data: d})
	}
	return out
}

func TestWithoutContent_NoEventTypeKeepsContentButTotalsAndSizesStay(t *testing.T) {
	for _, e := range oneOfEach() {
		got := e.WithoutContent()
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s keeps content: %s", e.Type, b)
		}
		if got.ID != e.ID || got.ExecutionID != "x1" || got.ConversationID != "c1" || got.Type != e.Type {
			t.Errorf("%s lost its ids: %s", e.Type, b)
		}
		if end, ok := got.EndData(); ok {
			if end.TotalTokens != 7 || end.Cost != 0.25 || end.ErrorCode != "node_failed" || end.OutputBytes != len("You said: "+secret+".") {
				t.Errorf("%s lost its totals, code or output size: %+v", e.Type, end)
			}
		}
	}
	// The original is not edited: the record subscriber still reads the output.
	for _, e := range oneOfEach() {
		if end, ok := e.EndData(); ok {
			e.WithoutContent()
			if again, _ := e.EndData(); again.Output == "" || end.Output != again.Output {
				t.Errorf("%s: WithoutContent emptied the caller's event", e.Type)
			}
		}
	}
}

func TestLogger_LinesCarryNoContent(t *testing.T) {
	var out bytes.Buffer
	h := events.Logger(slog.New(slog.NewJSONHandler(&out, nil)))
	for _, e := range oneOfEach() {
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(out.String(), "\n"); n != len(oneOfEach()) {
		t.Fatalf("%d lines for %d events", n, len(oneOfEach()))
	}
	if strings.Contains(out.String(), secret) {
		t.Fatalf("the event log lines carry content:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"output_bytes":`) || !strings.Contains(out.String(), `"error_code":"node_failed"`) {
		t.Fatalf("the lines lost sizes or codes:\n%s", out.String())
	}
}

func TestOneOfEach_CoversEveryEventType(t *testing.T) {
	have := map[string]bool{}
	for _, e := range oneOfEach() {
		have[e.Type] = true
	}
	for _, typ := range events.Types {
		if !have[typ] {
			t.Errorf("oneOfEach has no %s event: its content rules are untested", typ)
		}
	}
}
