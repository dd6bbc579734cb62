package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// The condition that ran ~65 s on a 15 KB message and kept burning CPU after
// the client left.
const hotCondition = `any(split(message, ""), {any(split(message, ""), {# == "z"})})`

// execWithin runs req and fails the test if the run has not ended by the deadline.
func (h *harness) execWithin(t *testing.T, ctx context.Context, req executor.Request) (*executor.Result, error) {
	t.Helper()
	type result struct {
		res *executor.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := h.x.Execute(ctx, req, nil)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("the run is still going after 30s")
		return nil, nil
	}
}

// A condition over its budget fails the run with expression_budget_exceeded naming
// the edge or the node — the execution record, the event and the error agree — and
// an error handler does not retry it (the retry would burn the same budget again).
func TestExecute_ConditionOverBudgetFailsTheRunNamingEdgeOrNode(t *testing.T) {
	msg := strings.Repeat("abcdefghij", 1500) // 15 KB, as in the issue
	withHandler := func(d *workflow.Definition) *workflow.Definition {
		d.Nodes = append(d.Nodes, node("oops", "error_handler", `{"retry_count":3,"fallback_action":"continue"}`))
		d.Edges = append(d.Edges, edge("oops", "END"))
		return d
	}
	hotEdge := func() *workflow.Definition {
		d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", "")},
			edge("start", "llm"), edge("llm", "END"))
		e := condEdge("llm", "END", hotCondition)
		e.ID = "hot"
		d.Edges = append(d.Edges, e)
		return d
	}
	tests := []struct {
		name, node, named string
		d                 *workflow.Definition
	}{
		{"edge condition", "llm", `edge "hot"`, hotEdge()},
		{"edge condition with an error handler", "llm", `edge "hot"`, withHandler(hotEdge())},
		{"loop condition", "L", `node "L"`, loopDef(3, false, hotCondition)},
		{"loop condition with an error handler", "L", `node "L"`, withHandler(loopDef(3, false, hotCondition))},
		{"conditional node", "C", `node "C"`, def([]workflow.Node{node("start", "start", ""),
			node("C", "conditional", `{"condition":`+quoteJSON(hotCondition)+`}`)},
			edge("start", "C"), handleEdge("C", "END", "true"), handleEdge("C", "END", "false"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res, err := h.execWithin(t, context.Background(), inline(tt.d, msg))
			re, ok := errAs[*executor.RuntimeError](err)
			if !ok || re.Code != errcode.ExpressionBudget || re.NodeID != tt.node {
				t.Fatalf("err = %v, want expression_budget_exceeded at node %s", err, tt.node)
			}
			if !strings.Contains(re.Message, tt.named) || !strings.Contains(re.Message, "budget") || strings.Contains(re.Message, "abcdefghij") {
				t.Errorf("message %q: want it to name %s and the budget, without the user's text", re.Message, tt.named)
			}
			if executor.ErrorCode(err) != errcode.ExpressionBudget || executor.PublicMessage(err) != re.Message {
				t.Errorf("ErrorCode %q, PublicMessage %q", executor.ErrorCode(err), executor.PublicMessage(err))
			}
			if res == nil || res.Status != store.ExecFailed {
				t.Fatalf("result %+v, want failed", res)
			}
			e := h.execution(t, userA, res.ExecutionID)
			if e.Status != store.ExecFailed || e.ErrorCode != errcode.ExpressionBudget {
				t.Errorf("execution = %s/%s, want failed/%s", e.Status, e.ErrorCode, errcode.ExpressionBudget)
			}
			var failed int
			for _, ev := range h.eventsOf(res.ExecutionID) {
				if ev.Type == events.ExecutionFailed {
					failed++
				}
			}
			if failed != 1 {
				t.Errorf("%d execution_failed events, want 1", failed)
			}
			if n := len(visits(res, "oops")); n != 0 {
				t.Errorf("the error handler ran %d times", n)
			}
		})
	}
}

// A run cancelled while its model answers reaches the hot condition with a done
// context: the evaluation stops at once and the run ends cancelled, not failed.
func TestExecute_CancelledRunDuringAConditionIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(t, func(o *executor.Options) {
		o.Providers = []llm.Provider{&scripted{name: "devllm", fn: func(*llm.Request) []llm.Delta {
			cancel() // the client goes away while the model answers
			return textDeltas("an answer")
		}}}
	})
	d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", "")},
		edge("start", "llm"), condEdge("llm", "END", hotCondition), edge("llm", "END"))
	res, err := h.execWithin(t, ctx, inline(d, strings.Repeat("abcdefghij", 1500)))
	if code := executor.ErrorCode(err); code != errcode.Cancelled {
		t.Fatalf("err = %v (%s), want cancelled", err, code)
	}
	if res == nil || res.Status != store.ExecCancelled {
		t.Errorf("result %+v, want cancelled", res)
	}
}

func quoteJSON(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
