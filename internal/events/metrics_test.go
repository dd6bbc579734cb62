package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/wire"
)

// emfUnits are the units the EMF specification allows.
var emfUnits = map[string]bool{"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true,
	"Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true,
	"Megabits": true, "Gigabits": true, "Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true,
	"Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true,
	"Terabits/Second": true, "Count/Second": true, "None": true}

// checkEMF validates one line against the structure the EMF specification
// requires, and returns its root object.
func checkEMF(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatalf("EMF line is not a JSON object: %v: %s", err, line)
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	ts, ok := aws["Timestamp"].(float64)
	if !ok || ts != float64(int64(ts)) || ts < 1e12 {
		t.Fatalf("_aws.Timestamp = %v, want epoch milliseconds", aws["Timestamp"])
	}
	dirs, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(dirs) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics = %v", aws["CloudWatchMetrics"])
	}
	for _, d := range dirs {
		dir := d.(map[string]any)
		ns, _ := dir["Namespace"].(string)
		if ns == "" || len(ns) > 1024 {
			t.Errorf("Namespace %q", ns)
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions must be an array of arrays: %v", dir["Dimensions"])
		}
		for _, s := range sets {
			set, ok := s.([]any)
			if !ok || len(set) > 30 {
				t.Fatalf("dimension set %v: not an array of at most 30", s)
			}
			for _, name := range set {
				n, ok := name.(string)
				v, isStr := root[n].(string)
				if !ok || !isStr || v == "" || len(v) > 1024 {
					t.Errorf("dimension %v has no top-level string value (got %v)", name, root[fmt.Sprint(name)])
				}
			}
		}
		ms, ok := dir["Metrics"].([]any)
		if !ok || len(ms) == 0 || len(ms) > 100 {
			t.Fatalf("Metrics = %v, want 1..100 definitions", dir["Metrics"])
		}
		for _, m := range ms {
			def := m.(map[string]any)
			name, _ := def["Name"].(string)
			if name == "" || len(name) > 1024 {
				t.Errorf("metric name %q", name)
			}
			if u, has := def["Unit"]; has && !emfUnits[u.(string)] {
				t.Errorf("metric %s unit %q is not an EMF unit", name, u)
			}
			switch v := root[name].(type) {
			case float64:
			case []any:
				if len(v) > 100 {
					t.Errorf("metric %s has %d values", name, len(v))
				}
			default:
				t.Errorf("metric %s has no top-level number (got %v)", name, root[name])
			}
		}
	}
	return root
}

func metricNames(root map[string]any) []string {
	var out []string
	for _, d := range root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
		for _, m := range d.(map[string]any)["Metrics"].([]any) {
			out = append(out, m.(map[string]any)["Name"].(string))
		}
	}
	slices.Sort(out)
	return out
}

func TestMetricsFor_EmitsValidEMFPerEventKind(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	base := events.Event{ID: "e1", Version: 1, ExecutionID: "x1", UserID: "u1", Seq: 3, Time: at,
		Source: events.SourceRef{Kind: "template", ID: "general_chat"}}
	with := func(typ string, data any) events.Event { e := base; e.Type, e.Data = typ, data; return e }
	for _, tc := range []struct {
		name    string
		e       events.Event
		want    []string
		values  map[string]any
		noValue []string
	}{
		{"completed", with(events.ExecutionCompleted, events.ExecutionEndData{Status: "completed", DurationMS: 812.5, ToolCalls: 1, Provider: "devllm", Model: "echo", Usage: wire.Usage{TotalTokens: 40, Cost: 0.002, CostKnown: true}}),
			[]string{"ExecutionCancelled", "ExecutionCount", "ExecutionFailed", "ExecutionTimeMs", "ToolCalls"},
			map[string]any{"ExecutionCount": 1.0, "ExecutionFailed": 0.0, "ExecutionTimeMs": 812.5, "ToolCalls": 1.0,
				"Provider": "devllm", "Model": "devllm", "SourceKind": "template"}, nil},
		{"failed before a provider was chosen", with(events.ExecutionFailed, events.ExecutionEndData{Status: "failed", ErrorCode: "invalid_input"}),
			[]string{"ExecutionCancelled", "ExecutionCount", "ExecutionFailed", "ExecutionTimeMs", "ToolCalls"},
			map[string]any{"ExecutionFailed": 1.0, "Provider": "none", "Model": "none", "error_code": "invalid_input"}, nil},
		{"rejected before it ran is a request, not an execution", with(events.ExecutionFailed, events.ExecutionEndData{Status: "failed",
			ErrorCode: "not_found", Rejected: true}),
			[]string{"RequestRejected"}, map[string]any{"RequestRejected": 1.0, "error_code": "not_found"},
			[]string{"ExecutionCount", "ExecutionFailed"}},
		{"cancelled", with(events.ExecutionCancelled, events.ExecutionEndData{Status: "cancelled"}),
			[]string{"ExecutionCancelled", "ExecutionCount", "ExecutionFailed", "ExecutionTimeMs", "ToolCalls"},
			map[string]any{"ExecutionCancelled": 1.0, "ExecutionFailed": 0.0}, nil},
		{"token usage with a known price", with(events.TokenUsage, events.TokenUsageData{Provider: "openai", Model: "gpt-4o", Usage: wire.Usage{InputTokens: 10, OutputTokens: 5, Cost: 0.01, CostKnown: true}}),
			[]string{"Cost", "TokensUsed"}, map[string]any{"TokensUsed": 15.0, "Cost": 0.01, "Model": "gpt-4o"}, nil},
		{"token usage with an unknown price has no cost", with(events.TokenUsage, events.TokenUsageData{Provider: "openai", Model: "x", Usage: wire.Usage{InputTokens: 1, OutputTokens: 1}}), []string{"TokensUsed"}, map[string]any{"TokensUsed": 2.0}, []string{"Cost"}},
		{"node executed", with(events.NodeExecuted, events.NodeExecutedData{NodeID: "llm", Kind: "llm", DurationMS: 3.25, Status: "ok"}),
			[]string{"NodeDurationMs"}, map[string]any{"NodeDurationMs": 3.25, "NodeKind": "llm"}, nil},
		{"waiting for a person", with(events.ExecutionWaiting, events.ExecutionWaitingData{NodeID: "ask", Input: "approval"}),
			[]string{"ExecutionWaiting"}, map[string]any{"ExecutionWaiting": 1.0}, []string{"ExecutionCount"}},
		{"resumed by a person", with(events.ExecutionResumed, events.ExecutionResumedData{NodeID: "ask", Input: "approval", WaitedMS: 1500}),
			[]string{"ExecutionResumed", "HumanWaitMs"}, map[string]any{"ExecutionResumed": 1.0, "HumanWaitMs": 1500.0}, []string{"ExecutionCount"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, ok := events.MetricsFor(tc.e)
			if !ok {
				t.Fatal("no metrics")
			}
			root := checkEMF(t, line)
			if got := metricNames(root); !slices.Equal(got, tc.want) {
				t.Errorf("metrics %v, want %v", got, tc.want)
			}
			for k, v := range tc.values {
				if root[k] != v {
					t.Errorf("%s = %v, want %v", k, root[k], v)
				}
			}
			for _, k := range tc.noValue {
				if _, has := root[k]; has {
					t.Errorf("%s present: %s", k, line)
				}
			}
			aws := root["_aws"].(map[string]any)
			if aws["Timestamp"].(float64) != float64(at.UnixMilli()) {
				t.Errorf("Timestamp %v, want the event time", aws["Timestamp"])
			}
			if ns := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)["Namespace"]; ns != events.DefaultNamespace {
				t.Errorf("namespace %v", ns)
			}
			if root["event_id"] != "e1" || root["execution_id"] != "x1" {
				t.Errorf("ids missing: %s", line)
			}
			if _, has := root["WorkflowID"]; has {
				t.Errorf("WorkflowID is a dimension without WorkflowBounded: %s", line)
			}
		})
	}
}

func TestMetrics_WorkflowDimensionOnlyWhenBounded(t *testing.T) {
	m := events.Metrics{Namespace: "Test/NS", WorkflowBounded: func(s events.SourceRef) bool { return s.Kind == "template" }}
	for _, tc := range []struct {
		src  events.SourceRef
		want bool
	}{{events.SourceRef{Kind: "template", ID: "general_chat"}, true}, {events.SourceRef{Kind: "definition", ID: "d-123"}, false}} {
		e := events.Event{ID: "e", ExecutionID: "x", Seq: 1, Type: events.ExecutionCompleted, Time: time.Unix(1_800_000_000, 0),
			Source: tc.src, Data: events.ExecutionEndData{Status: "completed"}}
		line, _ := m.For(e)
		root := checkEMF(t, line)
		dir := root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if dir["Namespace"] != "Test/NS" {
			t.Errorf("namespace %v", dir["Namespace"])
		}
		has := strings.Contains(fmt.Sprint(dir["Dimensions"]), "WorkflowID")
		if has != tc.want || (root["WorkflowID"] != nil) != tc.want {
			t.Errorf("%v: WorkflowID dimension %t, want %t: %s", tc.src, has, tc.want, line)
		}
	}
}

func TestMetricsFor_NoMetricsForOtherEvents(t *testing.T) {
	for _, typ := range []string{events.WorkflowStarted, events.LLMLoaded, events.ExecutionStarted, events.MessageSaved, events.ToolCalled} {
		if line, ok := events.MetricsFor(events.Event{Type: typ, Data: events.LLMLoadedData{}}); ok {
			t.Errorf("%s: %s", typ, line)
		}
	}
}

func TestMetricsWriter_SameLineForARedeliveredEvent(t *testing.T) {
	var out bytes.Buffer
	h := events.Metrics{}.Writer(&out)
	e := trail(0, events.ExecutionCompleted)[0]
	for range 2 {
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("lines = %q, want two identical", lines)
	}
	checkEMF(t, []byte(lines[0]))
}

func TestLogger_OneJSONLinePerEvent(t *testing.T) {
	var out bytes.Buffer
	h := events.Logger(slog.New(slog.NewJSONHandler(&out, nil)))
	for _, e := range trail(1, events.ExecutionCompleted) {
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["event_type"] != events.ExecutionCompleted || rec["execution_id"] != "x1" || rec["seq"] != 2.0 ||
		rec["data"].(map[string]any)["total_tokens"] != 9.0 {
		t.Fatalf("log line = %v", rec)
	}
}

func TestSubscriber_DecodesAndDropsForeignEnvelopes(t *testing.T) {
	good := trail(0, events.ExecutionCompleted)[0]
	detail, _ := json.Marshal(good)
	for _, tc := range []struct {
		name     string
		env      events.Envelope
		wantCall bool
	}{
		{"chatter event", events.Envelope{Source: events.Source, DetailType: good.Type, Detail: detail}, true},
		{"other source", events.Envelope{Source: "aws.s3", DetailType: good.Type, Detail: detail}, false},
		{"detail-type mismatch", events.Envelope{Source: events.Source, DetailType: events.NodeExecuted, Detail: detail}, false},
		{"broken detail", events.Envelope{Source: events.Source, DetailType: good.Type, Detail: []byte(`{"id":`)}, false},
		{"detail without ids", events.Envelope{Source: events.Source, DetailType: good.Type, Detail: []byte(`{"type":"execution_completed"}`)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []events.Event
			sub := events.Subscriber(func(_ context.Context, e events.Event) error { got = append(got, e); return nil },
				slog.New(slog.DiscardHandler))
			if err := sub(context.Background(), tc.env); err != nil {
				t.Fatalf("err = %v, want nil (foreign envelopes are acknowledged)", err)
			}
			if (len(got) == 1) != tc.wantCall {
				t.Fatalf("handler called %d times, want call=%t", len(got), tc.wantCall)
			}
			if tc.wantCall {
				if d, ok := got[0].EndData(); !ok || d.TotalTokens != 9 {
					t.Errorf("data = %#v", got[0].Data)
				}
			}
		})
	}
}

func TestEvent_UnmarshalGivesTypedData(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		data any
	}{
		{events.WorkflowStarted, events.WorkflowStartedData{Mode: "standard", Nodes: 4}},
		{events.LLMLoaded, events.LLMLoadedData{Provider: "devllm", Model: "m"}},
		{events.ToolsLoaded, events.ToolsLoadedData{Tools: []string{"calculator"}}},
		{events.RetrieverLoaded, events.RetrieverLoadedData{DocumentIDs: []string{"d"}}},
		{events.NodeExecuted, events.NodeExecutedData{NodeID: "n", Kind: "llm", Status: "ok"}},
		{events.ToolCalled, events.ToolCalledData{Tool: "calculator", CallID: "c"}},
		{events.TokenUsage, events.TokenUsageData{Usage: wire.Usage{InputTokens: 2, CostKnown: true}}},
		{events.MessageSaved, events.MessageSavedData{MessageID: "m", Seq: 2}},
		{events.SummaryFailed, events.SummaryFailedData{NodeID: "memory", Provider: "devllm", ErrorCode: "unavailable", FromSeq: 2, ThroughSeq: 4}},
		{events.ExecutionCancelled, events.ExecutionEndData{Status: "cancelled"}},
		{events.ExecutionStarted, nil},
	} {
		e := events.Event{ID: "1", Type: tc.typ, ExecutionID: "x", Seq: 1, Data: tc.data}
		b, _ := json.Marshal(e)
		var back events.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if fmt.Sprintf("%#v", back.Data) != fmt.Sprintf("%#v", tc.data) {
			t.Errorf("%s: data %#v, want %#v", tc.typ, back.Data, tc.data)
		}
	}
	var unknown events.Event
	if err := json.Unmarshal([]byte(`{"type":"from_the_future","data":{"a":1}}`), &unknown); err != nil {
		t.Fatal(err)
	}
	if raw, ok := unknown.Data.(json.RawMessage); !ok || string(raw) != `{"a":1}` {
		t.Errorf("unknown type data = %#v, want raw JSON", unknown.Data)
	}
}

func TestChain_RunsInOrderAndStopsAtTheFirstError(t *testing.T) {
	var ran []string
	h := func(name string, err error) events.Handler {
		return func(context.Context, events.Event) error { ran = append(ran, name); return err }
	}
	boom := errors.New("boom")
	if err := events.Chain(h("a", nil), h("b", boom), h("c", nil))(context.Background(), events.Event{}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(ran, []string{"a", "b"}) {
		t.Fatalf("ran %v", ran)
	}
}

func TestMetricsFor_ModelDimensionIsBoundedByThePriceTable(t *testing.T) {
	tests := []struct{ provider, model, want string }{
		{"openai", "gpt-4o-2024-08-06", "gpt-4o"},
		{"openai", "GPT-4o-mini", "gpt-4o-mini"},
		{"openai", "llama3:8b-my-own-" + strings.Repeat("x", 40), "other"},
		{"anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5"},
		{"bedrock", "anything.else", "other"},
		{"devllm", "whatever-the-request-said", "devllm"},
	}
	for _, tt := range tests {
		e := events.Event{ID: "01E", Type: events.TokenUsage, ExecutionID: "x", Time: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC),
			Data: events.TokenUsageData{Provider: tt.provider, Model: tt.model, Usage: wire.Usage{InputTokens: 1, CacheReadTokens: 2, OutputTokens: 3}}}
		line, ok := events.MetricsFor(e)
		if !ok {
			t.Fatalf("%s/%s: no metrics", tt.provider, tt.model)
		}
		root := checkEMF(t, line)
		if root["Model"] != tt.want || root["TokensUsed"] != 6.0 {
			t.Errorf("%s/%s: Model %v TokensUsed %v, want %s and 6 (cached tokens counted)", tt.provider, tt.model, root["Model"], root["TokensUsed"], tt.want)
		}
	}
}
