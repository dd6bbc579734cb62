package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

const (
	userA = "user-a"
	userB = "user-b"
)

// harness is one Executor over an in-memory store and an event recorder.
type harness struct {
	x     *executor.Executor
	store *store.Memory
	rec   *events.Recorder
}

// newHarness builds an executor with devllm (unless opts sets providers) and lets
// mod adjust the options.
func newHarness(t testing.TB, mod func(*executor.Options)) *harness {
	t.Helper()
	h := &harness{store: store.NewMemory(), rec: &events.Recorder{}}
	o := executor.Options{Store: h.store, Emitter: h.rec, Providers: []llm.Provider{devllm.New(devllm.Options{})}}
	if mod != nil {
		mod(&o)
	}
	x, err := executor.New(o)
	if err != nil {
		t.Fatalf("executor.New: %v", err)
	}
	h.x = x
	return h
}

func (h *harness) exec(t testing.TB, req executor.Request, sink executor.Sink) (*executor.Result, error) {
	t.Helper()
	return h.x.Execute(context.Background(), req, sink)
}

// mustRun executes and fails the test on any error.
func (h *harness) mustRun(t testing.TB, req executor.Request, sink executor.Sink) *executor.Result {
	t.Helper()
	res, err := h.exec(t, req, sink)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res == nil || res.Status != store.ExecCompleted {
		t.Fatalf("Execute: result %+v, want completed", res)
	}
	return res
}

func (h *harness) messages(t testing.TB, user, conv string) []store.Message {
	t.Helper()
	msgs, err := h.store.Messages(context.Background(), user, conv)
	if err != nil {
		t.Fatalf("Messages(%s, %s): %v", user, conv, err)
	}
	return msgs
}

func (h *harness) execution(t testing.TB, user, id string) *store.Execution {
	t.Helper()
	e, err := h.store.GetExecution(context.Background(), user, id)
	if err != nil {
		t.Fatalf("GetExecution(%s, %s): %v", user, id, err)
	}
	return e
}

// eventsOf returns the recorded events of one execution, in emission order.
func (h *harness) eventsOf(id string) []events.Event {
	var out []events.Event
	for _, e := range h.rec.Events() {
		if e.ExecutionID == id {
			out = append(out, e)
		}
	}
	return out
}

// Requests.

func inline(d *workflow.Definition, msg string) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceInline, Definition: d},
		Input: executor.Input{Message: msg, UserID: userA}}
}

func template(name, msg string) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceTemplate, ID: name},
		Input: executor.Input{Message: msg, UserID: userA}}
}

func dynamic(msg string, memory, retrieval, tools bool) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceDynamic},
		Input: executor.Input{Message: msg, UserID: userA, Config: executor.Config{
			EnableMemory: &memory, EnableRetrieval: &retrieval, EnableTools: &tools}}}
}

// Definitions.

func def(nodes []workflow.Node, edges ...workflow.Edge) *workflow.Definition {
	return &workflow.Definition{Name: "test", Nodes: nodes, Edges: edges}
}

func node(id, kind, config string) workflow.Node {
	n := workflow.Node{ID: id, Type: kind}
	if config != "" {
		n.Data.Config = json.RawMessage(config)
	}
	return n
}

func edge(src, tgt string) workflow.Edge { return workflow.Edge{Source: src, Target: tgt} }

func condEdge(src, tgt, cond string) workflow.Edge {
	return workflow.Edge{Source: src, Target: tgt, Data: &workflow.EdgeData{Condition: cond}}
}

func handleEdge(src, tgt, handle string) workflow.Edge {
	return workflow.Edge{Source: src, Target: tgt, SourceHandle: handle}
}

// chatDef is start -> llm -> END.
func chatDef() *workflow.Definition {
	return def([]workflow.Node{node("start", "start", ""), node("llm", "llm", "")},
		edge("start", "llm"), edge("llm", "END"))
}

// toolLoopDef is start -> llm <-> tools -> END with the given tools config.
func toolLoopDef(toolsConfig string) *workflow.Definition {
	return def([]workflow.Node{node("start", "start", ""), node("llm", "llm", ""), node("tools", "tools", toolsConfig)},
		edge("start", "llm"), condEdge("llm", "tools", "has_tool_calls"), edge("llm", "END"), edge("tools", "llm"))
}

// Log helpers.

func visits(res *executor.Result, nodeID string) []store.NodeRun {
	var out []store.NodeRun
	for _, n := range res.Log {
		if n.NodeID == nodeID {
			out = append(out, n)
		}
	}
	return out
}

// Providers.

// recorder wraps a provider and keeps a copy of every request it got.
type recorder struct {
	llm.Provider
	mu   sync.Mutex
	reqs []llm.Request
	// onStream runs before each call, for checks at model-call time.
	onStream func(req *llm.Request)
}

func (r *recorder) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	c := *req
	c.Messages = slices.Clone(req.Messages)
	c.Tools = slices.Clone(req.Tools)
	r.mu.Lock()
	r.reqs = append(r.reqs, c)
	r.mu.Unlock()
	if r.onStream != nil {
		r.onStream(req)
	}
	return r.Provider.Stream(ctx, req)
}

func (r *recorder) requests() []llm.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// scripted is a provider whose reply is computed by a function of the request.
type scripted struct {
	name string
	fn   func(req *llm.Request) []llm.Delta
	fail func(req *llm.Request) error // after the deltas; nil = success
}

func (s *scripted) Name() string { return s.name }

func (s *scripted) Stream(_ context.Context, req *llm.Request) llm.Stream {
	st := &llm.SliceStream{Deltas: s.fn(req)}
	if s.fail != nil {
		st.Fail = s.fail(req)
	}
	return st
}

func textDeltas(text string) []llm.Delta {
	var ds []llm.Delta
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		ds = append(ds, llm.Delta{Kind: llm.DeltaText, Text: w})
	}
	return append(ds, llm.Delta{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 10, OutputTokens: len(ds)}},
		llm.Delta{Kind: llm.DeltaFinish, FinishReason: llm.FinishStop})
}

func toolCallDeltas(id, name, args string) []llm.Delta {
	return []llm.Delta{
		{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{ID: id, Name: name, Arguments: args}},
		{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 10, OutputTokens: 4}},
		{Kind: llm.DeltaFinish, FinishReason: llm.FinishToolCalls},
	}
}

func lastMessage(req *llm.Request) llm.Message {
	if len(req.Messages) == 0 {
		return llm.Message{}
	}
	return req.Messages[len(req.Messages)-1]
}

func errAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
