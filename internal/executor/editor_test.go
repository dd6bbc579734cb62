package executor_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow"
)

// editorExample is one of the predecessor's editor's example workflows, as its editor
// saves them (internal/workflow/testdata/editor).
func editorExample(t testing.TB, name string) *workflow.Definition {
	t.Helper()
	b, err := os.ReadFile("../workflow/testdata/editor/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := workflow.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run executes req with its own deadline.
func (h *harness) run(t testing.TB, req executor.Request) (*executor.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.x.Execute(ctx, req, nil)
}

func TestExecute_EditorExamplesRunToCompletion(t *testing.T) {
	t.Run("simple", func(t *testing.T) {
		h := newHarness(t, nil)
		res, err := h.run(t, inline(editorExample(t, "simple"), "hello"))
		if err != nil || res.Status != store.ExecCompleted || res.Response != "You said: hello." {
			t.Fatalf("result %+v, err %v; want completed, echoed", res, err)
		}
	})
	t.Run("parallel_processing", func(t *testing.T) {
		rec := &recorder{Provider: devllm.New(devllm.Options{})}
		h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
		res, err := h.run(t, inline(editorExample(t, "parallel_processing"), "hello"))
		if err != nil || res.Status != store.ExecCompleted {
			t.Fatalf("result %+v, err %v; want completed", res, err)
		}
		systems := map[string]bool{}
		for _, r := range rec.requests() {
			systems[r.System] = true
		}
		for _, id := range []string{"model-1", "model-2", "model-3", "model-final"} {
			if n := len(visits(res, id)); n != 1 {
				t.Errorf("%s ran %d times, want once", id, n)
			}
		}
		for _, s := range []string{"Analyze the input text.", "Summarize the input text.", "Analyze sentiment of the text.", "Combine all analyses into a comprehensive report."} {
			if !systems[s] {
				t.Errorf("no model call had the system message %q (got %v)", s, systems)
			}
		}
		// The combiner runs last and sees the three analyses.
		last := rec.requests()[len(rec.requests())-1]
		if last.System != "Combine all analyses into a comprehensive report." || countRole(last.Messages, llm.RoleAssistant) != 3 {
			t.Errorf("last call: system %q with %d assistant messages, want the combiner with 3", last.System, countRole(last.Messages, llm.RoleAssistant))
		}
	})
	t.Run("rag_with_tools, with chatter's calculator", func(t *testing.T) {
		// As saved it names web_search, which chatter lacks (next test); with the
		// calculator alone it runs: memory, retrieval, model, the conditional node
		// routes to the tools, the model answers from the result, then the run ends.
		d := editorExample(t, "rag_with_tools")
		d.Nodes[5].Data.Config = json.RawMessage(`{"tools":["calculator"],"parallel":false}`)
		h := newHarness(t, nil)
		res, err := h.run(t, inline(d, `/tool calculator {"expression":"2+3"}`))
		if err != nil || res.Status != store.ExecCompleted {
			t.Fatalf("result %+v, err %v; want completed", res, err)
		}
		if len(res.ToolCalls) != 1 || res.ToolCalls[0].Name != "calculator" || res.ToolCalls[0].Result != "5" {
			t.Fatalf("tool calls %+v, want the calculator's 5 (the model is offered tools through the conditional node)", res.ToolCalls)
		}
		if !strings.Contains(res.Response, "The calculator tool returned: 5.") {
			t.Errorf("response %q, want the model's answer from the tool result", res.Response)
		}
		want := []string{"start-1", "memory-1", "retrieval-1", "model-1", "conditional-1", "tool-1", "model-1", "conditional-1"}
		var got []string
		for _, n := range res.Log {
			got = append(got, n.NodeID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("visits %v, want %v", got, want)
		}
	})
}

func TestExecute_EditorExampleNamingWebSearchIsRefusedNamingIt(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.run(t, inline(editorExample(t, "rag_with_tools"), "hello"))
	pe, ok := errAs[*executor.PreparationError](err)
	if !ok || pe.Code != errcode.InvalidWorkflow || len(pe.Problems) != 1 {
		t.Fatalf("err %v, want one invalid_workflow problem", err)
	}
	if p := pe.Problems[0]; p.Code != workflow.CodeUnknownTool || p.Pointer != "/nodes/5/data/config/tools/0" || !strings.Contains(p.Message, "web_search") {
		t.Errorf("problem %+v, want unknown_tool web_search at /nodes/5/data/config/tools/0", p)
	}
}

func countRole(msgs []llm.Message, role llm.Role) int {
	n := 0
	for _, m := range msgs {
		if m.Role == role {
			n++
		}
	}
	return n
}

func TestExecute_DisabledNodesAreSkipped(t *testing.T) {
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
	d := def([]workflow.Node{node("start", "start", ""),
		node("off", "llm", `{"enabled":false,"systemMessage":"never sent"}`),
		node("set", "variable", `{"enabled":false,"name":"v","value":1}`),
		node("wait", "delay", `{"enabled":false,"duration":1,"unit":"minutes"}`),
		node("on", "llm", "")},
		edge("start", "off"), edge("off", "set"), edge("set", "wait"), edge("wait", "on"), edge("on", "END"))
	res, err := h.run(t, inline(d, "hello"))
	if err != nil || res.Status != store.ExecCompleted || res.Response != "You said: hello." {
		t.Fatalf("result %+v, err %v", res, err)
	}
	if n := len(rec.requests()); n != 1 || rec.requests()[0].System == "never sent" {
		t.Errorf("%d model calls (%+v), want only the enabled node's", n, rec.requests())
	}
	if _, set := res.Variables["v"]; set {
		t.Errorf("variables %v: the disabled variable node ran", res.Variables)
	}
	for _, id := range []string{"off", "set", "wait"} {
		if v := visits(res, id); len(v) != 1 || v[0].Status != "ok" || v[0].Detail != "disabled: skipped" {
			t.Errorf("%s visits %+v, want one, skipped", id, v)
		}
	}
}

// probe is a tool that reports how many of its calls ran at once: each call waits
// (up to a bound) for a second one to arrive.
type probe struct {
	mu             sync.Mutex
	inFlight, most int
	arrived        chan struct{}
}

func (p *probe) tool() tools.Tool {
	return tools.Tool{Name: "probe", Description: "reports concurrency", Handler: func(ctx context.Context, _ json.RawMessage) (string, error) {
		p.mu.Lock()
		p.inFlight++
		p.most = max(p.most, p.inFlight)
		p.mu.Unlock()
		select {
		case p.arrived <- struct{}{}: // a second call is waiting to receive
		case <-p.arrived:
		case <-time.After(time.Second): // alone: calls run one at a time
		case <-ctx.Done():
		}
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
		return "ok", nil
	}}
}

func TestExecute_ToolsParallelFalseRunsATurnsCallsOneAtATime(t *testing.T) {
	for _, tt := range []struct {
		config   string
		wantMost int
	}{{`{}`, 2}, {`{"parallel":true}`, 2}, {`{"parallel":false}`, 1}} {
		t.Run(tt.config, func(t *testing.T) {
			p := &probe{arrived: make(chan struct{})}
			reg, err := tools.NewRegistry(p.tool())
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, func(o *executor.Options) { o.Tools = reg })
			res, err := h.run(t, inline(toolLoopDef(tt.config), "/tool probe ; /tool probe"))
			if err != nil || len(res.ToolCalls) != 2 {
				t.Fatalf("result %+v, err %v; want two calls", res, err)
			}
			if p.most != tt.wantMost {
				t.Errorf("%d calls ran at once, want %d", p.most, tt.wantMost)
			}
		})
	}
}

func TestExecute_NodeTimeoutFailsTheVisit(t *testing.T) {
	h := newHarness(t, nil)
	d := def([]workflow.Node{node("start", "start", ""),
		node("wait", "delay", `{"duration_ms":120000,"max_duration_ms":120000,"timeout_ms":30}`), node("llm", "llm", "")},
		edge("start", "wait"), edge("wait", "llm"), edge("llm", "END"))
	res, err := h.run(t, inline(d, "x"))
	re, ok := errAs[*executor.RuntimeError](err)
	if !ok || re.Code != errcode.Timeout || re.NodeID != "wait" || !strings.Contains(re.Message, "30ms") {
		t.Fatalf("err %v, want a timeout of node wait saying 30ms", err)
	}
	if res.Status != store.ExecFailed || len(visits(res, "llm")) != 0 {
		t.Errorf("status %s, llm visits %d; want failed before the llm", res.Status, len(visits(res, "llm")))
	}
	// An error handler takes a node's timeout like any failure.
	d.Nodes = append(d.Nodes, node("eh", "error_handler", `{"retry_count":0,"fallback_action":"continue"}`))
	d.Edges = append(d.Edges, edge("eh", "llm"))
	res, err = h.run(t, inline(d, "x"))
	if err != nil || res.Status != store.ExecCompleted || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "exceeded its timeout") {
		t.Fatalf("with a handler: result %+v, err %v; want completed past the timeout", res, err)
	}
}

func TestExecute_NodeRetriesRerunAFailedNode(t *testing.T) {
	// fail-once: the first call with this message fails (not retryable by the
	// provider loop), the next one answers.
	for _, tt := range []struct {
		config     string
		wantStatus string
		wantVisits int
	}{{``, store.ExecFailed, 1}, {`{"retries":1}`, store.ExecCompleted, 2}, {`{"retries":3}`, store.ExecCompleted, 2}} {
		t.Run(tt.config, func(t *testing.T) {
			h := newHarness(t, nil)
			d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", tt.config)}, edge("start", "llm"), edge("llm", "END"))
			res, _ := h.run(t, inline(d, "/fail-once invalid_request"))
			if res.Status != tt.wantStatus || len(visits(res, "llm")) != tt.wantVisits {
				t.Fatalf("status %s after %d visits (%+v), want %s after %d", res.Status, len(visits(res, "llm")), res.Log, tt.wantStatus, tt.wantVisits)
			}
			if tt.wantStatus == store.ExecCompleted && (len(res.Errors) != 0 || visits(res, "llm")[0].Status != "error") {
				t.Errorf("errors %v, first visit %+v; want the failure logged and replaced by the retry", res.Errors, visits(res, "llm")[0])
			}
		})
	}
}
