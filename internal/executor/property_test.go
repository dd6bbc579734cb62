package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/workflow"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

// Valid configs per kind; delays stay in milliseconds.
var propConfigs = map[string][]string{
	"llm":           {``, `{"system_prompt":"Be brief."}`, `{"temperature":0.5,"max_tokens":100}`},
	"tools":         {``, `{"max_tool_calls":2,"timeout_ms":1000}`},
	"memory":        {``, `{"window":2}`, `{"window":0,"include_summary":false}`},
	"retrieval":     {``, `{"top_k":2}`},
	"conditional":   {``, `{"condition":"message contains hi"}`, `{"condition":"has_errors"}`, `{"condition":"variables.n > 1"}`},
	"loop":          {`{"max_iterations":1}`, `{"max_iterations":3}`, `{"max_iterations":2,"condition":"variables.n < 5"}`},
	"variable":      {`{"operation":"set","name":"s","value":"x"}`, `{"operation":"increment","name":"n"}`, `{"operation":"append","name":"l","value":1}`, `{"operation":"get","name":"n","target":"g"}`, `{"operation":"decrement","name":"s"}`},
	"error_handler": {`{"retry_count":1,"fallback_action":"continue"}`, `{"retry_count":0,"fallback_action":"stop"}`, `{"retry_count":2,"fallback_action":"clear_errors"}`},
	"delay":         {`{"type":"fixed","duration_ms":1,"max_duration_ms":2}`, `{"type":"random","duration_ms":2,"max_duration_ms":2}`, `{"type":"exponential","duration_ms":1,"factor":2,"max_duration_ms":3}`},
	"end":           {``},
}

var propKinds = []string{"llm", "tools", "memory", "retrieval", "conditional", "loop", "variable", "error_handler", "delay", "end"}

var propConditions = []string{"", "", "", "has_tool_calls", "no_tool_calls", "has_errors", "no_errors", "tool_calls < 2",
	"variable n equals 1", "message contains hi", "variables.n > 0", "has_tool_calls AND tool_calls < 3", "loop_n1_continue", "loop_n2_done"}

var propMessages = []string{"hi there", `/tool calculator {"expression":"1+2"}`, "/fail invalid_request", "/fail-once rate_limited",
	"/break a b c d e f", "/tool nope {}"}

// genDefinition builds a random definition: a spine start -> n1 -> ... -> END, so
// most graphs compile, plus random extra edges (forward, back, END) with conditions
// and handles.
func genDefinition(t *rapid.T) *workflow.Definition {
	n := rapid.IntRange(1, 6).Draw(t, "nodes")
	d := &workflow.Definition{Name: "prop", Variables: map[string]any{"n": rapid.IntRange(0, 3).Draw(t, "n0")}}
	d.Nodes = append(d.Nodes, node("start", "start", ""))
	for i := 1; i <= n; i++ {
		kind := rapid.SampledFrom(propKinds).Draw(t, fmt.Sprintf("kind%d", i))
		cfg := rapid.SampledFrom(propConfigs[kind]).Draw(t, fmt.Sprintf("cfg%d", i))
		d.Nodes = append(d.Nodes, node(fmt.Sprintf("n%d", i), kind, cfg))
	}
	id := func(i int) string {
		if i == 0 {
			return "start"
		}
		if i > n {
			return "END"
		}
		return fmt.Sprintf("n%d", i)
	}
	for i := 0; i < n; i++ {
		d.Edges = append(d.Edges, edge(id(i), id(i+1)))
	}
	d.Edges = append(d.Edges, edge(id(n), "END"))
	extra := rapid.IntRange(0, 5).Draw(t, "extra")
	for k := range extra {
		src := rapid.IntRange(0, n).Draw(t, fmt.Sprintf("src%d", k))
		tgt := rapid.IntRange(1, n+1).Draw(t, fmt.Sprintf("tgt%d", k))
		e := edge(id(src), id(tgt))
		if c := rapid.SampledFrom(propConditions).Draw(t, fmt.Sprintf("cond%d", k)); c != "" {
			e.Data = &workflow.EdgeData{Condition: c}
		}
		e.SourceHandle = rapid.SampledFrom([]string{"", "", "true", "false"}).Draw(t, fmt.Sprintf("handle%d", k))
		d.Edges = append(d.Edges, e)
	}
	return d
}

func TestExecute_RandomGraphsEndWithATypedErrorOrSuccess(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) {
		o.StepLimit = 50
		o.RetryBase = time.Microsecond
		o.Providers = []llm.Provider{devllm.New(devllm.Options{})}
	})
	compiled := 0
	rapid.Check(t, func(t *rapid.T) {
		d := genDefinition(t)
		if _, err := workflow.Compile(d, workflow.Options{Conditions: cond.Compiler}); err != nil {
			return // only graphs the validator accepts are promised to run
		}
		compiled++
		msg := rapid.SampledFrom(propMessages).Draw(t, "message")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Execute runs on its own goroutine so a hang is reported (with the graph)
		// instead of stalling the test binary; a panic is carried back so rapid can
		// shrink the case.
		done := make(chan struct{})
		var res *executor.Result
		var err error
		var panicked any
		go func() {
			defer close(done)
			defer func() { panicked = recover() }()
			req := inline(d, msg)
			req.ExecutionID = fmt.Sprintf("prop-%d", compiled)
			res, err = h.x.Execute(ctx, req, nil)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Execute did not return; definition %s", mustJSON(d))
		}
		if panicked != nil {
			t.Fatalf("Execute panicked: %v; definition %s", panicked, mustJSON(d))
		}
		var pe *executor.PreparationError
		var re *executor.RuntimeError
		var ce *executor.CancelledError
		switch {
		case err == nil:
			if res == nil || res.Status != store.ExecCompleted {
				t.Fatalf("nil error with result %+v", res)
			}
		case errors.As(err, &pe):
			if res != nil {
				t.Fatalf("preparation error %v with a result", err)
			}
		case errors.As(err, &re):
			if res == nil || res.Status != store.ExecFailed || res.Error == nil || res.Error.Code != re.Code {
				t.Fatalf("runtime error %v with result %+v", err, res)
			}
			// Validation promises that a graph without a loop node ends: every cycle
			// it accepts is bounded by max_tool_calls, and a failure never goes round one.
			if re.Code == errcode.StepLimit && !hasLoop(d) {
				t.Fatalf("a valid graph without a loop node ran into the step limit: %v; definition %s", err, mustJSON(d))
			}
		case errors.As(err, &ce):
			if res == nil || res.Status != store.ExecCancelled {
				t.Fatalf("cancelled error %v with result %+v", err, res)
			}
		default:
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if res != nil && (res.Steps > 50 || len(res.Log) == 0) {
			t.Fatalf("steps %d, log %d entries", res.Steps, len(res.Log))
		}
		evs := h.eventsOf(fmt.Sprintf("prop-%d", compiled))
		terminals := 0
		for i, e := range evs {
			if e.Seq != i+1 {
				t.Fatalf("event %d (%s) has seq %d", i, e.Type, e.Seq)
			}
			if e.Terminal() {
				terminals++
			}
		}
		if terminals != 1 || !evs[len(evs)-1].Terminal() {
			t.Fatalf("%d terminal events, last %s; want exactly one, last", terminals, evs[len(evs)-1].Type)
		}
	})
	if compiled == 0 {
		t.Fatal("no generated definition compiled")
	}
	t.Logf("%d generated definitions compiled and ran", compiled)
}

func hasLoop(d *workflow.Definition) bool {
	for _, n := range d.Nodes {
		if n.Type == "loop" {
			return true
		}
	}
	return false
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
