package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow"
)

func TestExecute_StartEndRunsBothNodesAndCompletes(t *testing.T) {
	h := newHarness(t, nil)
	d := def([]workflow.Node{node("start", "start", ""), node("end", "end", "")}, edge("start", "end"))
	res := h.mustRun(t, inline(d, "hi"), nil)
	var got []string
	for _, n := range res.Log {
		got = append(got, n.NodeID+":"+n.Kind+":"+n.Status)
	}
	if want := []string{"start:start:ok", "end:end:ok"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("log = %v, want %v", got, want)
	}
	if res.Steps != 2 {
		t.Errorf("Steps = %d, want 2", res.Steps)
	}
}

func TestExecute_LLMStreamsTokensThatConcatenateToResponse(t *testing.T) {
	h := newHarness(t, nil)
	var c executor.Collector
	res := h.mustRun(t, inline(chatDef(), "hello there world"), &c)
	if want := "You said: hello there world."; res.Response != want {
		t.Fatalf("Response = %q, want %q", res.Response, want)
	}
	tokens := 0
	for _, ch := range c.Chunks {
		if ch.Type == wire.ChunkToken {
			tokens++
			if ch.NodeID != "llm" {
				t.Errorf("token chunk node = %q, want llm", ch.NodeID)
			}
		}
	}
	if tokens < 2 {
		t.Errorf("got %d token chunks, want one per word", tokens)
	}
	if c.Text() != res.Response {
		t.Errorf("token chunks = %q, want %q", c.Text(), res.Response)
	}
	if res.Usage.InputTokens == 0 || res.Usage.OutputTokens == 0 {
		t.Errorf("usage = %+v, want both counts set", res.Usage)
	}
}

func TestExecute_ToolsNode(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		wantReply string
		wantError bool
	}{
		{"calculator round trip", `/tool calculator {"expression":"2+3"}`, "The calculator tool returned: 5.", false},
		{"tool error goes back to the model", `/tool calculator {"expression":"1/0"}`, "The calculator tool failed: ", true},
		{"invalid arguments go back to the model", `/tool calculator {"nope":1}`, "The calculator tool failed: ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.mustRun(t, template("code_assistant", tt.msg), nil)
			if !strings.HasPrefix(res.Response, tt.wantReply) {
				t.Fatalf("Response = %q, want prefix %q", res.Response, tt.wantReply)
			}
			if len(res.ToolCalls) != 1 {
				t.Fatalf("ToolCalls = %+v, want 1", res.ToolCalls)
			}
			tc := res.ToolCalls[0]
			if tc.Name != "calculator" || tc.IsError != tt.wantError {
				t.Errorf("tool call = %+v, want calculator with IsError=%t", tc, tt.wantError)
			}
			if !tt.wantError && tc.Result != "5" {
				t.Errorf("tool result = %q, want 5", tc.Result)
			}
			if got := len(visits(res, "llm")); got != 2 {
				t.Errorf("llm visits = %d, want 2 (call, then answer)", got)
			}
		})
	}
}

func TestExecute_ToolNotAllowedIsAnErrorResultForTheModel(t *testing.T) {
	// The model asks for current_time although the request allows only calculator.
	var seen []llm.Message
	p := &scripted{name: "fake", fn: func(req *llm.Request) []llm.Delta {
		last := lastMessage(req)
		if last.Role == llm.RoleTool {
			seen = append(seen, last)
			return textDeltas("ok")
		}
		return toolCallDeltas("c1", "current_time", `{}`)
	}}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p} })
	req := inline(toolLoopDef(""), "what time is it")
	req.Input.Config.AllowedTools = []string{"calculator"}
	res := h.mustRun(t, req, nil)
	if len(res.ToolCalls) != 1 || !res.ToolCalls[0].IsError || !strings.Contains(res.ToolCalls[0].Result, "not available") {
		t.Fatalf("ToolCalls = %+v, want one error result saying not available", res.ToolCalls)
	}
	if len(seen) != 1 || !seen[0].IsError || seen[0].ToolCallID != "c1" {
		t.Fatalf("tool message sent to the model = %+v, want an error result for c1", seen)
	}
}

func TestExecute_ToolTimeoutFromToolsConfig(t *testing.T) {
	slow := tools.Tool{Name: "slow", Description: "sleeps", Handler: func(ctx context.Context, _ json.RawMessage) (string, error) {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(30 * time.Second):
			return "finished", nil
		}
	}}
	reg, err := tools.NewRegistry(slow)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *executor.Options) { o.Tools = reg })
	res := h.mustRun(t, inline(toolLoopDef(`{"timeout_ms":20}`), "/tool slow {}"), nil)
	if len(res.ToolCalls) != 1 || !res.ToolCalls[0].IsError {
		t.Fatalf("ToolCalls = %+v, want one error result", res.ToolCalls)
	}
	if !strings.Contains(res.ToolCalls[0].Result, "timed out") {
		t.Errorf("tool result = %q, want it to say the tool timed out", res.ToolCalls[0].Result)
	}
	if !strings.HasPrefix(res.Response, "The slow tool failed: ") {
		t.Errorf("Response = %q, want the model to read the failure", res.Response)
	}
}

// summaryStore gives every loaded conversation a summary, which store.Memory has no
// setter for.
type summaryStore struct {
	*store.Memory
	summary string
}

func (s summaryStore) LoadConversation(ctx context.Context, user, conv string, window int) (*store.Conversation, []store.Message, error) {
	c, msgs, err := s.Memory.LoadConversation(ctx, user, conv, window)
	if c != nil {
		c.Summary = s.summary
	}
	return c, msgs, err
}

func TestExecute_MemoryNode(t *testing.T) {
	tests := []struct {
		name        string
		config      string
		wantHistory []string
		wantSummary bool
	}{
		{"window trims history", `{"window":2,"include_summary":false}`, []string{"third", "You said: third."}, false},
		{"window 0 drops history", `{"window":0,"include_summary":false}`, nil, false},
		{"summary included", `{"window":4,"include_summary":true}`, []string{"second", "You said: second.", "third", "You said: third."}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{Provider: devllm.New(devllm.Options{})}
			mem := store.NewMemory()
			h := newHarness(t, func(o *executor.Options) {
				o.Providers = []llm.Provider{rec}
				o.Store = summaryStore{Memory: mem, summary: "They talked about numbers."}
			})
			h.store = mem
			d := def([]workflow.Node{node("start", "start", ""), node("mem", "memory", tt.config), node("llm", "llm", `{"system_prompt":"Be brief."}`)},
				edge("start", "mem"), edge("mem", "llm"), edge("llm", "END"))
			conv := ""
			for _, msg := range []string{"first", "second", "third", "fourth"} {
				req := inline(d, msg)
				req.Input.ConversationID = conv
				conv = h.mustRun(t, req, nil).ConversationID
			}
			reqs := rec.requests()
			last := reqs[len(reqs)-1]
			var got []string
			for _, m := range last.Messages[:len(last.Messages)-1] {
				got = append(got, m.Content)
			}
			if !reflect.DeepEqual(got, tt.wantHistory) {
				t.Errorf("history sent = %q, want %q", got, tt.wantHistory)
			}
			if m := lastMessage(&last); m.Role != llm.RoleUser || m.Content != "fourth" {
				t.Errorf("last message = %+v, want the user's fourth message", m)
			}
			hasSummary := strings.Contains(last.System, "They talked about numbers.")
			if hasSummary != tt.wantSummary {
				t.Errorf("system = %q; summary included = %t, want %t", last.System, hasSummary, tt.wantSummary)
			}
			if !strings.HasPrefix(last.System, "Be brief.") {
				t.Errorf("system = %q, want the node's prompt first", last.System)
			}
		})
	}
}

func TestExecute_RetrievalUsesOnlyTheUsersDocuments(t *testing.T) {
	ret := &retrieval.Memory{}
	ret.Add(
		retrieval.Document{ID: "a1", UserID: userA, Title: "Refunds", Text: "Our refund policy allows returns within 30 days."},
		retrieval.Document{ID: "b1", UserID: userB, Title: "Secret", Text: "The refund policy secret of user B."},
	)
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	h := newHarness(t, func(o *executor.Options) { o.Retriever = ret; o.Providers = []llm.Provider{rec} })
	var c executor.Collector
	res := h.mustRun(t, template("document_qa", "what is the refund policy"), &c)

	if len(res.Sources) != 1 || res.Sources[0].DocumentID != "a1" {
		t.Fatalf("Sources = %+v, want only a1", res.Sources)
	}
	var sourceChunks int
	for _, ch := range c.Chunks {
		if ch.Type == wire.ChunkSources {
			sourceChunks++
			for _, p := range ch.Sources {
				if p.DocumentID != "a1" {
					t.Errorf("sources chunk has %q", p.DocumentID)
				}
			}
		}
	}
	if sourceChunks != 1 {
		t.Errorf("sources chunks = %d, want 1", sourceChunks)
	}
	if !strings.HasSuffix(res.Response, "I used the provided context.") {
		t.Errorf("Response = %q, want the context acknowledged", res.Response)
	}
	sys := rec.requests()[0].System
	if !strings.Contains(sys, "Context:") || !strings.Contains(sys, "30 days") || strings.Contains(sys, "secret") {
		t.Errorf("system prompt = %q, want user A's passage only", sys)
	}

	// User B sees B's document, never A's.
	req := template("document_qa", "what is the refund policy")
	req.Input.UserID = userB
	resB := h.mustRun(t, req, nil)
	if len(resB.Sources) != 1 || resB.Sources[0].DocumentID != "b1" {
		t.Fatalf("user B Sources = %+v, want only b1", resB.Sources)
	}
}

func TestExecute_RetrievalWithoutMatchesAddsNoContext(t *testing.T) {
	h := newHarness(t, nil)
	res := h.mustRun(t, template("document_qa", "hello"), nil)
	if len(res.Sources) != 0 || strings.Contains(res.Response, "context") {
		t.Fatalf("Sources = %+v, Response = %q; want none and a plain echo", res.Sources, res.Response)
	}
}

func TestExecute_ConditionalRoutesByHandle(t *testing.T) {
	d := def([]workflow.Node{
		node("start", "start", ""),
		node("cond", "conditional", `{"condition":"message contains yes"}`),
		node("yes", "variable", `{"operation":"set","name":"branch","value":"yes"}`),
		node("no", "variable", `{"operation":"set","name":"branch","value":"no"}`),
	}, edge("start", "cond"), handleEdge("cond", "yes", "true"), handleEdge("cond", "no", "false"),
		edge("yes", "END"), edge("no", "END"))
	tests := []struct{ msg, want, skipped string }{
		{"Yes please", "yes", "no"},
		{"not at all", "no", "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			res := newHarness(t, nil).mustRun(t, inline(d, tt.msg), nil)
			if got := res.Variables["branch"]; got != tt.want {
				t.Errorf("branch = %v, want %s", got, tt.want)
			}
			if n := len(visits(res, tt.skipped)); n != 0 {
				t.Errorf("node %s ran %d times, want 0", tt.skipped, n)
			}
		})
	}
}

func TestExecute_ConditionalEdgeConditionsWithoutNodeCondition(t *testing.T) {
	d := def([]workflow.Node{
		node("start", "start", ""),
		node("cond", "conditional", ""),
		node("big", "variable", `{"operation":"set","name":"size","value":"big"}`),
		node("small", "variable", `{"operation":"set","name":"size","value":"small"}`),
	}, edge("start", "cond"), condEdge("cond", "big", "variables.n > 10"), edge("cond", "small"),
		edge("big", "END"), edge("small", "END"))
	for _, tc := range []struct {
		n    int
		want string
	}{{11, "big"}, {3, "small"}} {
		d.Variables = map[string]any{"n": tc.n}
		res := newHarness(t, nil).mustRun(t, inline(d, "x"), nil)
		if res.Variables["size"] != tc.want {
			t.Errorf("n=%d: size = %v, want %s", tc.n, res.Variables["size"], tc.want)
		}
	}
}

func loopDef(maxIter int, conditionalEdges bool, loopCond string) *workflow.Definition {
	cfg := map[string]any{"max_iterations": maxIter}
	if loopCond != "" {
		cfg["condition"] = loopCond
	}
	b, _ := json.Marshal(cfg)
	d := def([]workflow.Node{
		node("start", "start", ""),
		node("L", "loop", string(b)),
		node("inc", "variable", `{"operation":"increment","name":"count"}`),
		node("after", "variable", `{"operation":"set","name":"exited","value":true}`),
	}, edge("start", "L"), edge("inc", "L"), edge("after", "END"))
	if conditionalEdges {
		d.Edges = append(d.Edges, condEdge("L", "inc", "loop_L_continue"), condEdge("L", "after", "loop_L_done"))
	} else {
		d.Edges = append(d.Edges, edge("L", "inc"), edge("L", "after"))
	}
	d.Variables = map[string]any{"count": 0}
	return d
}

func TestExecute_LoopRespectsMaxIterationsAndExits(t *testing.T) {
	tests := []struct {
		name      string
		d         *workflow.Definition
		wantCount int
	}{
		{"plain edges, 1 iteration", loopDef(1, false, ""), 1},
		{"plain edges, 3 iterations", loopDef(3, false, ""), 3},
		{"loop_<id>_continue edges, 4 iterations", loopDef(4, true, ""), 4},
		{"loop condition stops early", loopDef(10, false, "variables.count < 2"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newHarness(t, nil).mustRun(t, inline(tt.d, "go"), nil)
			if got := len(visits(res, "inc")); got != tt.wantCount {
				t.Errorf("body visits = %d, want %d", got, tt.wantCount)
			}
			if got := len(visits(res, "L")); got != tt.wantCount+1 {
				t.Errorf("loop visits = %d, want %d", got, tt.wantCount+1)
			}
			if res.Variables["count"] != tt.wantCount {
				t.Errorf("count = %v, want %d", res.Variables["count"], tt.wantCount)
			}
			if res.Variables["exited"] != true || len(visits(res, "after")) != 1 {
				t.Errorf("exit arc not taken exactly once: vars %v", res.Variables)
			}
			last := visits(res, "L")
			if d := last[len(last)-1].Detail; !strings.Contains(d, "continue=false") {
				t.Errorf("last loop detail = %q, want continue=false", d)
			}
		})
	}
}

func TestExecute_VariableOperations(t *testing.T) {
	tests := []struct {
		name string
		ops  []string // variable node configs, run in sequence
		vars map[string]any
		want map[string]any
	}{
		{"set", []string{`{"operation":"set","name":"x","value":"hi"}`}, nil, map[string]any{"x": "hi"}},
		{"get into target", []string{`{"operation":"set","name":"x","value":7}`, `{"operation":"get","name":"x","target":"y"}`},
			nil, map[string]any{"x": float64(7), "y": float64(7)}},
		{"get into default target", []string{`{"operation":"get","name":"x"}`}, map[string]any{"x": "v"}, map[string]any{"x": "v", "value": "v"}},
		{"append to string", []string{`{"operation":"append","name":"s","value":"b"}`}, map[string]any{"s": "a"}, map[string]any{"s": "ab"}},
		{"append to missing makes a list", []string{`{"operation":"append","name":"l","value":1}`, `{"operation":"append","name":"l","value":"two"}`},
			nil, map[string]any{"l": []any{float64(1), "two"}}},
		{"increment missing starts at 0", []string{`{"operation":"increment","name":"n"}`, `{"operation":"increment","name":"n","amount":2}`},
			nil, map[string]any{"n": 3}},
		{"decrement to a fraction", []string{`{"operation":"decrement","name":"n","amount":0.5}`}, map[string]any{"n": 2}, map[string]any{"n": 1.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := []workflow.Node{node("start", "start", "")}
			edges := []workflow.Edge{}
			prev := "start"
			for i, op := range tt.ops {
				id := "v" + string(rune('0'+i))
				nodes = append(nodes, node(id, "variable", op))
				edges = append(edges, edge(prev, id))
				prev = id
			}
			edges = append(edges, edge(prev, "END"))
			d := def(nodes, edges...)
			d.Variables = tt.vars
			res := newHarness(t, nil).mustRun(t, inline(d, "x"), nil)
			if !reflect.DeepEqual(res.Variables, tt.want) {
				t.Errorf("Variables = %#v, want %#v", res.Variables, tt.want)
			}
		})
	}
}

func TestExecute_IncrementOfStringFailsTheRun(t *testing.T) {
	d := def([]workflow.Node{node("start", "start", ""), node("inc", "variable", `{"operation":"increment","name":"s"}`)},
		edge("start", "inc"), edge("inc", "END"))
	d.Variables = map[string]any{"s": "text"}
	h := newHarness(t, nil)
	res, err := h.exec(t, inline(d, "x"), nil)
	re, ok := errAs[*executor.RuntimeError](err)
	if !ok || re.Code != errcode.NodeFailed || re.NodeID != "inc" {
		t.Fatalf("err = %v, want node_failed at inc", err)
	}
	if res == nil || res.Status != store.ExecFailed || res.Error == nil || res.Error.Code != errcode.NodeFailed {
		t.Fatalf("result = %+v, want failed with node_failed", res)
	}
	if e := h.execution(t, userA, res.ExecutionID); e.Status != store.ExecFailed {
		t.Errorf("execution status = %s, want failed", e.Status)
	}
}

// errorHandlerDef runs an llm node that fails; routed selects has_errors routing
// instead of the implicit jump to the handler.
func errorHandlerDef(handlerConfig string, routed bool) *workflow.Definition {
	d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", ""), node("eh", "error_handler", handlerConfig)},
		edge("start", "llm"))
	if routed {
		d.Edges = append(d.Edges, condEdge("llm", "eh", "has_errors"), edge("llm", "END"), edge("eh", "END"))
	} else {
		d.Edges = append(d.Edges, edge("llm", "END"))
	}
	return d
}

func TestExecute_ErrorHandler(t *testing.T) {
	tests := []struct {
		name       string
		config     string
		wantErr    string // "" = completed
		wantLLM    int
		wantErrors int
	}{
		{"continue keeps the errors", `{"retry_count":0,"fallback_action":"continue"}`, "", 1, 1},
		{"retries then continues", `{"retry_count":2,"fallback_action":"continue"}`, "", 3, 1},
		{"clear_errors", `{"retry_count":1,"fallback_action":"clear_errors"}`, "", 2, 0},
		{"stop fails the run", `{"retry_count":1,"fallback_action":"stop"}`, errcode.NodeFailed, 2, 1},
		{"stop without retries", `{"retry_count":0,"fallback_action":"stop"}`, errcode.NodeFailed, 1, 1},
	}
	for _, tt := range tests {
		for _, routed := range []bool{false, true} {
			name := tt.name + "/implicit"
			if routed {
				name = tt.name + "/has_errors"
			}
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, func(o *executor.Options) { o.StepLimit = 30 })
				res, err := h.exec(t, inline(errorHandlerDef(tt.config, routed), "/fail invalid_request"), nil)
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("err = %v, want completed", err)
					}
					if res.Status != store.ExecCompleted {
						t.Fatalf("status = %s", res.Status)
					}
				} else {
					if got := executor.ErrorCode(err); got != tt.wantErr {
						t.Fatalf("err = %v (code %s), want %s", err, got, tt.wantErr)
					}
					if res.Status != store.ExecFailed {
						t.Fatalf("status = %s, want failed", res.Status)
					}
				}
				if got := len(visits(res, "llm")); got != tt.wantLLM {
					t.Errorf("llm visits = %d, want %d", got, tt.wantLLM)
				}
				for _, v := range visits(res, "llm") {
					if v.Status != "error" {
						t.Errorf("llm visit status = %s, want error", v.Status)
					}
				}
				retries := 0
				for _, v := range visits(res, "eh") {
					if strings.HasPrefix(v.Detail, "retry ") {
						retries++
					}
				}
				if retries != tt.wantLLM-1 {
					t.Errorf("retries in log = %d, want %d", retries, tt.wantLLM-1)
				}
				if tt.wantErr == "" && len(res.Errors) != tt.wantErrors {
					t.Errorf("Errors = %q, want %d", res.Errors, tt.wantErrors)
				}
				if tt.wantErrors > 0 && tt.wantErr == "" && !strings.Contains(res.Errors[0], "invalid_request") {
					t.Errorf("Errors = %q, want the provider code", res.Errors)
				}
			})
		}
	}
}

func TestExecute_LLMFailureWithoutHandlerIsLLMError(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.exec(t, inline(chatDef(), "/fail invalid_request"), nil)
	re, ok := errAs[*executor.RuntimeError](err)
	if !ok || re.Code != errcode.LLM || re.LLMCode != llm.CodeInvalidRequest || re.NodeID != "llm" {
		t.Fatalf("err = %#v, want llm_error invalid_request at llm", err)
	}
}

func delayDef(config string) *workflow.Definition {
	return def([]workflow.Node{node("start", "start", ""), node("d", "delay", config)}, edge("start", "d"), edge("d", "END"))
}

func sleptFor(t *testing.T, n store.NodeRun) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.TrimPrefix(n.Detail, "slept "))
	if err != nil {
		t.Fatalf("detail %q: %v", n.Detail, err)
	}
	return d
}

func TestExecute_DelayNode(t *testing.T) {
	t.Run("fixed", func(t *testing.T) {
		res := newHarness(t, nil).mustRun(t, inline(delayDef(`{"type":"fixed","duration_ms":3}`), "x"), nil)
		if got := sleptFor(t, visits(res, "d")[0]); got != 3*time.Millisecond {
			t.Errorf("slept %s, want 3ms", got)
		}
	})
	t.Run("capped by max_duration_ms", func(t *testing.T) {
		res := newHarness(t, nil).mustRun(t, inline(delayDef(`{"type":"fixed","duration_ms":50,"max_duration_ms":2}`), "x"), nil)
		if got := sleptFor(t, visits(res, "d")[0]); got != 2*time.Millisecond {
			t.Errorf("slept %s, want 2ms", got)
		}
	})
	t.Run("random within bound", func(t *testing.T) {
		h := newHarness(t, nil)
		for range 10 {
			res := h.mustRun(t, inline(delayDef(`{"type":"random","duration_ms":4}`), "x"), nil)
			if got := sleptFor(t, visits(res, "d")[0]); got < 0 || got > 4*time.Millisecond {
				t.Fatalf("slept %s, want within [0, 4ms]", got)
			}
		}
	})
	t.Run("exponential grows across loop visits", func(t *testing.T) {
		d := def([]workflow.Node{
			node("start", "start", ""), node("L", "loop", `{"max_iterations":4}`),
			node("d", "delay", `{"type":"exponential","duration_ms":1,"factor":2}`),
		}, edge("start", "L"), edge("L", "d"), edge("d", "L"), edge("L", "END"))
		res := newHarness(t, nil).mustRun(t, inline(d, "x"), nil)
		var got []time.Duration
		for _, v := range visits(res, "d") {
			got = append(got, sleptFor(t, v))
		}
		want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("delays = %v, want %v", got, want)
		}
	})
	t.Run("cancellation ends a long delay", func(t *testing.T) {
		h := newHarness(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := executor.SinkFunc(func(c wire.Chunk) error {
			if c.Type == wire.ChunkNodeStarted && c.NodeID == "d" {
				cancel()
			}
			return nil
		})
		res, err := h.x.Execute(ctx, inline(delayDef(`{"type":"fixed","duration_ms":120000,"max_duration_ms":120000}`), "x"), sink)
		var ce *executor.CancelledError
		if !errors.As(err, &ce) || ce.Code != errcode.Cancelled {
			t.Fatalf("err = %v, want CancelledError cancelled", err)
		}
		if res == nil || res.Status != store.ExecCancelled {
			t.Fatalf("result = %+v, want cancelled", res)
		}
		if e := h.execution(t, userA, res.ExecutionID); e.Status != store.ExecCancelled {
			t.Errorf("execution status = %s, want cancelled", e.Status)
		}
	})
}

func TestExecute_AppendDoesNotWriteIntoSharedDefinitionVariables(t *testing.T) {
	shared := make([]any, 1, 8) // spare capacity, as JSON decoding often leaves
	shared[0] = "zero"
	mk := func(value string) *workflow.Definition {
		d := def([]workflow.Node{node("start", "start", ""), node("add", "variable", `{"operation":"append","name":"l","value":"`+value+`"}`)},
			edge("start", "add"), edge("add", "END"))
		d.Variables = map[string]any{"l": shared}
		return d
	}
	h := newHarness(t, nil)
	one := h.mustRun(t, inline(mk("one"), "x"), nil)
	h.mustRun(t, inline(mk("two"), "x"), nil)
	if got, want := one.Variables["l"], []any{"zero", "one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first run's list = %v after a second run, want %v", got, want)
	}
	if len(shared) != 1 || shared[:2][1] != nil {
		t.Errorf("definition's list was written: %v", shared[:2])
	}
}

func TestExecute_RunTimeoutFailsWithTimeout(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.RunTimeout = 20 * time.Millisecond })
	res, err := h.exec(t, inline(delayDef(`{"type":"fixed","duration_ms":120000,"max_duration_ms":120000}`), "x"), nil)
	re, ok := errAs[*executor.RuntimeError](err)
	if !ok || re.Code != errcode.Timeout {
		t.Fatalf("err = %v, want RuntimeError timeout", err)
	}
	if res.Status != store.ExecFailed {
		t.Errorf("status = %s, want failed", res.Status)
	}
	if e := h.execution(t, userA, res.ExecutionID); e.Status != store.ExecFailed || e.ErrorCode != errcode.Timeout {
		t.Errorf("execution = %s/%s, want failed/timeout", e.Status, e.ErrorCode)
	}
}

// The request's allowed_tools narrow what the workflow's tools node allows; they
// never add a tool the workflow does not allow (an empty intersection is no tools).
func TestExecute_RequestAllowedToolsNarrowButNeverWidenTheWorkflows(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		want    []string
	}{
		{"no request list: the workflow's", nil, []string{"current_time"}},
		{"inside the workflow's", []string{"current_time"}, []string{"current_time"}},
		{"outside the workflow's", []string{"calculator"}, nil},
		{"overlapping", []string{"calculator", "current_time"}, []string{"current_time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{Provider: &scripted{name: "fake", fn: func(*llm.Request) []llm.Delta { return textDeltas("ok") }}}
			h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
			req := inline(toolLoopDef(`{"allowed_tools":["current_time"]}`), "hi")
			req.Input.Config.AllowedTools = tt.allowed
			h.mustRun(t, req, nil)
			var got []string
			for _, s := range rec.requests()[0].Tools {
				got = append(got, s.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("offered %v, want %v", got, tt.want)
			}
		})
	}
}

// An error handler is entered only when the node before it failed: a plain edge
// into it is not taken on success, and a failure takes only the handler, not the
// node's other successors.
func TestExecute_ErrorHandlerOnAPlainEdgeRunsOnlyOnError(t *testing.T) {
	d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", ""), node("next", "variable", `{"operation":"set","name":"went","value":"on"}`),
		node("eh", "error_handler", `{"retry_count":0,"fallback_action":"continue"}`)},
		edge("start", "llm"), edge("llm", "next"), edge("llm", "eh"), edge("next", "END"), edge("eh", "END"))
	for _, tc := range []struct {
		name, msg      string
		wantNext, want int // visits of next and of eh
	}{
		{"success", "hello", 1, 0},
		{"failure", "/fail invalid_request", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *executor.Options) { o.StepLimit = 30 })
			res, err := h.exec(t, inline(d, tc.msg), nil)
			if err != nil || res.Status != store.ExecCompleted {
				t.Fatalf("err = %v, result %+v", err, res)
			}
			if got := len(visits(res, "next")); got != tc.wantNext {
				t.Errorf("next visited %d times, want %d", got, tc.wantNext)
			}
			if got := len(visits(res, "eh")); got != tc.want {
				t.Errorf("error handler visited %d times, want %d", got, tc.want)
			}
		})
	}
}

// A failure goes only to a handler whose branch does not lead back to the node that
// failed: the fallback's own failure, or a node the handler continues into, ends
// the run with that node's error instead of going round until the step limit.
func TestExecute_FailureInAHandlersBranchEndsTheRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		d        *workflow.Definition
		wantNode string
		wantEH   int
	}{
		{"the fallback fails too", def([]workflow.Node{node("start", "start", ""), node("a", "llm", ""),
			node("eh", "error_handler", `{"retry_count":0,"fallback_action":"continue"}`), node("fb", "llm", "")},
			edge("start", "a"), edge("a", "END"), edge("eh", "fb"), edge("fb", "END")), "fb", 1},
		{"the handler continues back into the node", def([]workflow.Node{node("start", "start", ""), node("a", "llm", ""),
			node("eh", "error_handler", `{"retry_count":1,"fallback_action":"continue"}`)},
			edge("start", "a"), edge("a", "END"), edge("eh", "a")), "a", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *executor.Options) { o.StepLimit = 30 })
			res, err := h.exec(t, inline(tc.d, "/fail invalid_request"), nil)
			var re *executor.RuntimeError
			if !errors.As(err, &re) || re.Code != errcode.LLM || re.NodeID != tc.wantNode {
				t.Fatalf("err = %v, want %s's llm_error", err, tc.wantNode)
			}
			if res.Status != store.ExecFailed || res.Steps >= 30 {
				t.Errorf("status %s after %d steps", res.Status, res.Steps)
			}
			if got := len(visits(res, "eh")); got != tc.wantEH {
				t.Errorf("error handler visited %d times, want %d", got, tc.wantEH)
			}
		})
	}
}

// A retrieval that finds nothing is no failure: no sources, and the model is told
// not to invent document content; a found passage is numbered with its document
// and chunk so the answer can cite it.
func TestExecute_RetrievalTellsTheModelWhichPassageIsWhichOrThatNoneMatched(t *testing.T) {
	ret := &retrieval.Memory{}
	ret.Add(retrieval.Document{ID: "a1", UserID: userA, Title: "Refunds", Text: "Refunds within 30 days."})
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	h := newHarness(t, func(o *executor.Options) { o.Retriever = ret; o.Providers = []llm.Provider{rec} })

	res := h.mustRun(t, template("document_qa", "zebra migration routes"), nil)
	if len(res.Sources) != 0 || strings.HasSuffix(res.Response, "I used the provided context.") {
		t.Fatalf("nothing found: sources %+v, response %q", res.Sources, res.Response)
	}
	if sys := rec.requests()[0].System; !strings.Contains(sys, "Do not make up document content") {
		t.Errorf("system prompt = %q, want the no-match instruction", sys)
	}
	h.mustRun(t, template("document_qa", "refunds policy"), nil)
	if sys := rec.requests()[1].System; !strings.Contains(sys, "[1] Refunds (document a1)") || !strings.Contains(sys, "Cite a passage") {
		t.Errorf("system prompt = %q, want the numbered passage", sys)
	}
}
