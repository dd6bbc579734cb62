package enginebench_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// BenchmarkExecute measures one whole run (prepare, run, finish) with devllm at zero
// delay, the in-memory store and an emitter that drops events: the executor's own
// overhead per request. Each iteration starts a new conversation, so the store grows
// but no history is loaded.
func BenchmarkExecute(b *testing.B) {
	cases := []struct {
		name string
		req  executor.Request
	}{
		{"general_chat", template("general_chat", "hello there, how are you today?")},
		{"universal_chat", dynamic("hello there, how are you today?", true, true, true)},
		{"tool_loop", template("code_assistant", `/tool calculator {"expression":"2+3"}`)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			runEach(b, newExecutor(b, store.NewMemory(), devllm.New(devllm.Options{})), c.req)
		})
	}
}

// nopStore persists nothing: BenchmarkEngine measures the engine alone, without the
// in-memory store's growth (and the garbage collection it causes) in the numbers.
type nopStore struct{}

func (nopStore) LoadConversation(context.Context, string, string, int) (*store.Conversation, []store.Message, error) {
	return nil, nil, store.ErrNotFound
}
func (nopStore) GetSettings(context.Context, string) (*store.Settings, error) {
	return &store.Settings{}, nil
}
func (nopStore) StartTurn(context.Context, store.StartTurn) error                   { return nil }
func (nopStore) FinishTurn(context.Context, string, string, store.FinishTurn) error { return nil }
func (nopStore) GetDefinition(context.Context, string, string, int) (*store.Definition, error) {
	return nil, store.ErrNotFound
}
func (nopStore) GetTemplate(context.Context, string, string) (*workflow.Template, error) {
	return nil, store.ErrNotFound
}
func (nopStore) GetTemplateByName(context.Context, string, string) (*workflow.Template, error) {
	return nil, store.ErrNotFound
}
func (nopStore) MessageRange(context.Context, string, string, int, int, int) ([]store.Message, error) {
	return nil, nil
}
func (nopStore) GetExecution(context.Context, string, string) (*store.Execution, error) {
	return nil, store.ErrNotFound
}
func (nopStore) PutCheckpoint(context.Context, string, string, string, []byte, time.Time) error {
	return nil
}
func (nopStore) Checkpoint(context.Context, string, string, string) ([]byte, error) {
	return nil, store.ErrNotFound
}
func (nopStore) UpdateExecution(context.Context, string, string, func(*store.Execution) error) (*store.Execution, error) {
	return nil, store.ErrNotFound
}

// BenchmarkEngine is BenchmarkExecute with a store that keeps nothing and
// eino-bench's fake model (benchModel): prepare, supersteps, the model stream,
// events and the Result — the part comparable with shared/peers/eino-bench's graph
// invoke, on the same input and replies.
func BenchmarkEngine(b *testing.B) {
	for _, c := range []struct {
		name string
		req  executor.Request
	}{
		{"general_chat", template("general_chat", "What is 1234*5?")},
		{"tool_loop", template("code_assistant", "What is 1234*5?")},
	} {
		b.Run(c.name, func(b *testing.B) {
			runEach(b, newExecutor(b, nopStore{}, benchModel{}), c.req)
		})
	}
}

// newExecutor is an executor over st and p that drops its events.
func newExecutor(tb testing.TB, st executor.Store, p llm.Provider) *executor.Executor {
	tb.Helper()
	x, err := executor.New(executor.Options{Store: st, Emitter: executor.DiscardEvents, Providers: []llm.Provider{p}})
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// runEach times one Execute of req per iteration, each answered.
func runEach(b *testing.B, x *executor.Executor, req executor.Request) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := x.Execute(ctx, req, executor.Discard)
		if err != nil || res.Response == "" {
			b.Fatalf("Execute: %v, %+v", err, res)
		}
	}
}

// Requests.

const benchUser = "user-bench"

func template(name, msg string) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceTemplate, ID: name},
		Input: executor.Input{Message: msg, UserID: benchUser}}
}

func dynamic(msg string, memory, retrieval, tools bool) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceDynamic},
		Input: executor.Input{Message: msg, UserID: benchUser, Config: executor.Config{
			EnableMemory: &memory, EnableRetrieval: &retrieval, EnableTools: &tools}}}
}

// TestBenchmarkRuns_DoWhatTheyClaim checks once what the benchmarks time: the engine's
// chat answers benchModel's reply, its tool loop calls the calculator once and then
// answers, and Execute with devllm and the in-memory store completes.
func TestBenchmarkRuns_DoWhatTheyClaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x := newExecutor(t, nopStore{}, benchModel{})
	for _, c := range []struct {
		name      string
		req       executor.Request
		toolCalls int
	}{
		{"general_chat", template("general_chat", "What is 1234*5?"), 0},
		{"tool_loop", template("code_assistant", "What is 1234*5?"), 1},
	} {
		res, err := x.Execute(ctx, c.req, executor.Discard)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Response != benchReply || res.Status != store.ExecCompleted {
			t.Errorf("%s: status %s, response %q; want completed, %q", c.name, res.Status, res.Response, benchReply)
		}
		if got := len(res.ToolCalls); got != c.toolCalls {
			t.Errorf("%s: %d tool calls, want %d", c.name, got, c.toolCalls)
		}
	}

	m := newExecutor(t, store.NewMemory(), devllm.New(devllm.Options{}))
	res, err := m.Execute(ctx, template("general_chat", "hello there"), executor.Discard)
	if err != nil || res.Status != store.ExecCompleted || res.Response == "" {
		t.Fatalf("Execute general_chat with devllm: %v, %+v", err, res)
	}
}
