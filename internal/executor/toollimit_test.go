package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/tools"
)

// countingTools is a registry whose one tool, "count", counts its real invocations.
func countingTools(t *testing.T) (*tools.Registry, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	reg, err := tools.NewRegistry(tools.Tool{Name: "count", Description: "counts its calls",
		Handler: func(context.Context, json.RawMessage) (string, error) { return fmt.Sprint(n.Add(1)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	return reg, &n
}

// limitRun is one tool-limit scenario's outcome.
type limitRun struct {
	res  *executor.Result
	reqs []llm.Request
	h    *harness
	n    int64 // real tool invocations
}

// checkToolLimit asserts the bound: exactly limit calls ran (the first ones, in the
// model's order), every other call was answered with an error result saying the
// limit was reached, the model got a result for every call id it issued, and the
// last model call was the tool-free finalize step.
func checkToolLimit(t *testing.T, lr limitRun, limit, asked int) {
	t.Helper()
	res := lr.res
	if lr.n != int64(limit) {
		t.Errorf("the tool ran %d times, want exactly max_tool_calls = %d", lr.n, limit)
	}
	if len(res.ToolCalls) != asked {
		t.Fatalf("ToolCalls = %d records, want one per call the model asked for (%d)", len(res.ToolCalls), asked)
	}
	wantMsg := fmt.Sprintf("limit of %d tool calls", limit)
	for i, tc := range res.ToolCalls {
		ran := i < limit
		if ran && (tc.IsError || tc.Skipped != "") {
			t.Errorf("call %d (%s) = %+v, want it run", i, tc.ID, tc)
		}
		if !ran && (!tc.IsError || tc.Skipped != store.SkippedMaxToolCalls || !strings.Contains(tc.Result, wantMsg)) {
			t.Errorf("call %d (%s) = %+v, want an error result skipped %q saying %q", i, tc.ID, tc, store.SkippedMaxToolCalls, wantMsg)
		}
	}
	final := lr.reqs[len(lr.reqs)-1]
	if len(final.Tools) != 0 {
		t.Errorf("the last model call offered %d tools, want the tool-free finalize step", len(final.Tools))
	}
	// Every tool_call id the model issued has exactly one tool result.
	issued, answered := map[string]int{}, map[string]int{}
	for _, m := range final.Messages {
		for _, c := range m.ToolCalls {
			issued[c.ID]++
		}
		if m.Role == llm.RoleTool {
			answered[m.ToolCallID]++
		}
	}
	if len(issued) != asked {
		t.Errorf("the finalize call carries %d tool call ids, want %d", len(issued), asked)
	}
	for id := range issued {
		if answered[id] != 1 {
			t.Errorf("tool call %s has %d results in the finalize request, want 1", id, answered[id])
		}
	}
	if res.Status != store.ExecCompleted || res.Response == "" {
		t.Errorf("run ended %s with response %q, want completed with the finalize answer", res.Status, res.Response)
	}
	// The execution shows it: records marked, tool_called events marked, executed count.
	ex := lr.h.execution(t, userA, res.ExecutionID)
	skipped := 0
	for _, tc := range ex.ToolCallRecords {
		if tc.Skipped == store.SkippedMaxToolCalls {
			skipped++
		}
	}
	if len(ex.ToolCallRecords) != asked || skipped != asked-limit || ex.ToolCalls != limit {
		t.Errorf("execution record: %d records, %d skipped, tool_calls %d; want %d, %d, %d",
			len(ex.ToolCallRecords), skipped, ex.ToolCalls, asked, asked-limit, limit)
	}
	var evRun, evSkipped int
	for _, e := range lr.h.eventsOf(res.ExecutionID) {
		if d, ok := e.Data.(events.ToolCalledData); ok && e.Type == events.ToolCalled {
			if d.Skipped == store.SkippedMaxToolCalls && d.IsError {
				evSkipped++
			} else if d.Skipped == "" {
				evRun++
			}
		}
	}
	if evRun != limit || evSkipped != asked-limit {
		t.Errorf("tool_called events: %d run, %d skipped; want %d, %d", evRun, evSkipped, limit, asked-limit)
	}
}

func TestExecute_MaxToolCallsBoundsCallsNotTurns(t *testing.T) {
	calls := make([]string, 30)
	for i := range calls {
		calls[i] = "count {}"
	}
	thirty := "/tool " + strings.Join(calls, " ; /tool ")
	tests := []struct {
		name string
		req  func() executor.Request
	}{
		{"tools node config", func() executor.Request { return inline(toolLoopDef(`{"max_tool_calls":1}`), thirty) }},
		{"request config", func() executor.Request {
			r := inline(toolLoopDef(""), thirty)
			r.Input.Config.MaxToolCalls = 1
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, n := countingTools(t)
			rec := &recorder{Provider: devllm.New(devllm.Options{})}
			h := newHarness(t, func(o *executor.Options) { o.Tools, o.Providers = reg, []llm.Provider{rec} })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var sink executor.Collector
			res, err := h.x.Execute(ctx, tt.req(), &sink)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			checkToolLimit(t, limitRun{res: res, reqs: rec.requests(), h: h, n: n.Load()}, 1, 30)
			if got := len(rec.requests()); got != 2 {
				t.Errorf("model calls = %d, want 2 (the turn with 30 calls, then finalize)", got)
			}
			var results, skipped int
			for _, c := range sink.Chunks {
				if c.Type == wire.ChunkToolResult {
					results++
					if c.Tool.Skipped == store.SkippedMaxToolCalls && c.Tool.IsError {
						skipped++
					}
				}
			}
			if results != 30 || skipped != 29 {
				t.Errorf("tool_result chunks: %d, %d skipped; want 30, 29", results, skipped)
			}
		})
	}
}

func TestExecute_MaxToolCallsCountsAcrossTurns(t *testing.T) {
	// While tools are offered, each turn asks for two calls; then it answers.
	turn := 0
	p := &scripted{name: "pairs", fn: func(req *llm.Request) []llm.Delta {
		if len(req.Tools) == 0 {
			return textDeltas("final answer")
		}
		turn++
		ds := []llm.Delta{
			{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{Index: 0, ID: fmt.Sprintf("t%d-a", turn), Name: "count", Arguments: `{}`}},
			{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{Index: 1, ID: fmt.Sprintf("t%d-b", turn), Name: "count", Arguments: `{}`}},
		}
		return append(ds, toolCallDeltas("", "", "")[1:]...)
	}}
	reg, n := countingTools(t)
	rec := &recorder{Provider: p}
	h := newHarness(t, func(o *executor.Options) { o.Tools, o.Providers = reg, []llm.Provider{rec} })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := h.x.Execute(ctx, inline(toolLoopDef(`{"max_tool_calls":3}`), "go"), nil)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	checkToolLimit(t, limitRun{res: res, reqs: rec.requests(), h: h, n: n.Load()}, 3, 4)
	if got := len(rec.requests()); got != 3 {
		t.Errorf("model calls = %d, want 3 (two turns of two calls, then finalize)", got)
	}
	if res.Response != "final answer" {
		t.Errorf("Response = %q, want the finalize answer", res.Response)
	}
}
