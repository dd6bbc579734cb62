package enginebench_test

import (
	"context"

	"github.com/chatterhq/chatter/internal/llm"
)

// benchReply is the fake model's final answer: the 20 words of eino-bench's Reply.
const benchReply = "The quick brown fox jumps over the lazy dog while the benchmark measures engine overhead of graph orchestration in Go"

// benchModel answers instantly from replies built once, as shared/peers/eino-bench's
// FakeModel does, so BenchmarkEngine compares the engines and not their fake models:
// offered tools and no tool result yet, it calls the calculator with eino-bench's
// arguments; otherwise it answers benchReply. Its streams allocate nothing but the
// stream itself.
type benchModel struct{}

var (
	benchText = []llm.Delta{{Kind: llm.DeltaText, Text: benchReply},
		{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 20, OutputTokens: 20}},
		{Kind: llm.DeltaFinish, FinishReason: llm.FinishStop}}
	benchCall = []llm.Delta{{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{ID: "call_1", Name: "calculator",
		Arguments: `{"expression":"1234*5"}`}},
		{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 20, OutputTokens: 10}},
		{Kind: llm.DeltaFinish, FinishReason: llm.FinishToolCalls}}
)

func (benchModel) Name() string { return "bench" }

func (benchModel) Stream(_ context.Context, req *llm.Request) llm.Stream {
	d := benchText
	if len(req.Tools) > 0 && (len(req.Messages) == 0 || req.Messages[len(req.Messages)-1].Role != llm.RoleTool) {
		d = benchCall
	}
	return &benchStream{d: d, i: -1}
}

type benchStream struct {
	d []llm.Delta
	i int
}

func (s *benchStream) Next() bool         { s.i++; return s.i < len(s.d) }
func (s *benchStream) Current() llm.Delta { return s.d[s.i] }
func (s *benchStream) Err() error         { return nil }
func (s *benchStream) Close() error       { return nil }
