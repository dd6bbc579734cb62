package executor_test

import (
	"reflect"
	"testing"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

func appendNode(id string) workflow.Node {
	return node(id, "variable", `{"operation":"append","name":"trace","value":"`+id+`"}`)
}

func TestExecute_FanOutJoinRunsTheJoinOnceAfterEveryBranch(t *testing.T) {
	tests := []struct {
		name      string
		d         *workflow.Definition
		before    []string // nodes that must finish before c
		wantTrace []any
	}{
		{"equal branches", def([]workflow.Node{node("start", "start", ""), appendNode("a"), appendNode("b"), appendNode("c")},
			edge("start", "a"), edge("start", "b"), edge("a", "c"), edge("b", "c"), edge("c", "END")),
			[]string{"a", "b"}, []any{"a", "b", "c"}},
		{"unequal branches", def([]workflow.Node{node("start", "start", ""), appendNode("a"), appendNode("b1"), appendNode("b2"), appendNode("c")},
			edge("start", "a"), edge("start", "b1"), edge("b1", "b2"), edge("a", "c"), edge("b2", "c"), edge("c", "END")),
			[]string{"a", "b1", "b2"}, []any{"a", "b1", "b2", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			var first map[string]any
			for i := range 50 {
				res := h.mustRun(t, inline(tt.d, "go"), nil)
				cs := visits(res, "c")
				if len(cs) != 1 {
					t.Fatalf("run %d: c ran %d times, want 1", i, len(cs))
				}
				for _, id := range tt.before {
					vs := visits(res, id)
					if len(vs) != 1 || vs[0].Step >= cs[0].Step {
						t.Fatalf("run %d: %s at %+v, want once before c (step %d)", i, id, vs, cs[0].Step)
					}
				}
				if i == 0 {
					first = res.Variables
					if !reflect.DeepEqual(first["trace"], tt.wantTrace) {
						t.Fatalf("trace = %v, want %v", first["trace"], tt.wantTrace)
					}
				} else if !reflect.DeepEqual(res.Variables, first) {
					t.Fatalf("run %d: Variables = %v, want %v as in run 0", i, res.Variables, first)
				}
			}
		})
	}
}

func TestExecute_ToolLoopIsBoundedByMaxToolCallsWithAFinalizeStep(t *testing.T) {
	// A model that always asks for a tool while tools are offered.
	p := &scripted{name: "greedy", fn: func(req *llm.Request) []llm.Delta {
		if len(req.Tools) > 0 {
			return toolCallDeltas("call", "calculator", `{"expression":"1+1"}`)
		}
		return textDeltas("final answer")
	}}
	rec := &recorder{Provider: p}
	tests := []struct {
		name string
		req  executor.Request
	}{
		{"tools node config", inline(toolLoopDef(`{"max_tool_calls":3}`), "go")},
		{"request config", func() executor.Request {
			r := inline(toolLoopDef(""), "go")
			r.Input.Config.MaxToolCalls = 3
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.reqs = nil
			h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
			res := h.mustRun(t, tt.req, nil)
			if len(res.ToolCalls) != 3 {
				t.Fatalf("ToolCalls = %d, want 3", len(res.ToolCalls))
			}
			reqs := rec.requests()
			if len(reqs) != 4 {
				t.Fatalf("model calls = %d, want 4 (3 with tools, 1 finalize)", len(reqs))
			}
			for i, r := range reqs[:3] {
				if len(r.Tools) == 0 {
					t.Errorf("call %d offered no tools", i)
				}
			}
			if last := reqs[3]; len(last.Tools) != 0 {
				t.Errorf("finalize call offered %d tools, want none", len(last.Tools))
			}
			if res.Response != "final answer" {
				t.Errorf("Response = %q", res.Response)
			}
			llms := visits(res, "llm")
			if d := llms[len(llms)-1].Detail; d == "" {
				t.Errorf("finalize step not marked in the log")
			}
		})
	}
}

func TestExecute_StepLimitFailsTheRun(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.StepLimit = 5 })
	res, err := h.exec(t, inline(loopDef(20, false, ""), "go"), nil)
	re, ok := errAs[*executor.RuntimeError](err)
	if !ok || re.Code != errcode.StepLimit {
		t.Fatalf("err = %v, want step_limit_exceeded", err)
	}
	if res.Status != store.ExecFailed || res.Steps != 5 {
		t.Errorf("result status %s steps %d, want failed after 5", res.Status, res.Steps)
	}
	e := h.execution(t, userA, res.ExecutionID)
	if e.Status != store.ExecFailed || e.ErrorCode != errcode.StepLimit {
		t.Errorf("execution = %s/%s, want failed/step_limit_exceeded", e.Status, e.ErrorCode)
	}
}

func TestExecute_WideFanOutRunsEveryBranch(t *testing.T) {
	for _, width := range []int{2, 3, 5} {
		nodes := []workflow.Node{node("start", "start", ""), appendNode("join")}
		edges := []workflow.Edge{edge("join", "END")}
		want := []any{}
		for i := range width {
			id := string(rune('a' + i))
			nodes = append(nodes, appendNode(id))
			edges = append(edges, edge("start", id), edge(id, "join"))
			want = append(want, id)
		}
		want = append(want, "join")
		res := newHarness(t, nil).mustRun(t, inline(def(nodes, edges...), "go"), nil)
		if !reflect.DeepEqual(res.Variables["trace"], want) {
			t.Errorf("width %d: trace = %v, want %v", width, res.Variables["trace"], want)
		}
	}
}
