package executor_test

import (
	"context"
	"testing"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
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
			h := newHarness(b, func(o *executor.Options) {
				o.Emitter = discardEmitter{}
				o.Providers = []llm.Provider{devllm.New(devllm.Options{})}
			})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := h.x.Execute(ctx, c.req, executor.Discard)
				if err != nil || res.Response == "" {
					b.Fatalf("Execute: %v, %+v", err, res)
				}
			}
		})
	}
}
