package openai

import (
	"context"
	"net/http"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/chatterhq/chatter/internal/llm"
)

// stream adapts the SDK's chunk stream to llm.Stream. One chunk can carry several
// deltas (text, tool-call fragments, finish reason, usage); they queue in buf, which
// lives in the stream so that the common chunk costs no allocation of ours.
type stream struct {
	p    *Provider
	ctx  context.Context
	sdk  *ssestream.Stream[openai.ChatCompletionChunk]
	resp *http.Response // set by the SDK even when the request failed

	buf  [4]llm.Delta
	pend []llm.Delta
	cur  llm.Delta
	err  error
	done bool

	sawFinish   bool
	sawToolCall bool
}

func (s *stream) Next() bool {
	for {
		if len(s.pend) > 0 {
			s.cur = s.pend[0]
			s.pend = s.pend[1:]
			return true
		}
		if s.done {
			return false
		}
		if !s.sdk.Next() {
			s.end(s.sdk.Err())
			return false
		}
		chunk := s.sdk.Current()
		s.decode(&chunk)
	}
}

func (s *stream) Current() llm.Delta { return s.cur }

func (s *stream) Err() error { return s.err }

// Close releases the connection; closing the body is what stops the transport from
// reading, so no goroutine outlives the stream.
func (s *stream) Close() error {
	s.done = true
	s.pend = nil
	return s.sdk.Close()
}

func (s *stream) end(err error) {
	s.done = true
	_ = s.sdk.Close()
	if err == nil && !s.sawFinish {
		// [DONE] and a cleanly closed body look the same to the SDK; a reply with no
		// finish reason was cut off either way, and must not pass for a whole one.
		if s.ctx.Err() != nil {
			err = s.ctx.Err()
		} else {
			s.err = &llm.Error{Provider: s.p.name, Code: llm.CodeUnavailable, Message: "stream ended before a finish reason"}
			return
		}
	}
	if err != nil {
		s.err = s.p.classify(s.ctx, s.resp, err)
	}
}

func (s *stream) decode(c *openai.ChatCompletionChunk) {
	s.pend = s.buf[:0]
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // n > 1 is never requested
		}
		d := &ch.Delta
		if d.Content != "" {
			s.pend = append(s.pend, llm.Delta{Kind: llm.DeltaText, Text: d.Content})
		}
		if d.Refusal != "" {
			// A refusal is the reply the user sees; it streams in its own field.
			s.pend = append(s.pend, llm.Delta{Kind: llm.DeltaText, Text: d.Refusal})
		}
		for j := range d.ToolCalls {
			tc := &d.ToolCalls[j]
			idx := int(tc.Index)
			if !tc.JSON.Index.Valid() {
				idx = j // some compatible servers omit index on whole, one-chunk calls
			}
			s.sawToolCall = true
			s.pend = append(s.pend, llm.Delta{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{
				Index:     idx,
				ID:        tc.ID,
				Name:      tc.Function.Name,
				Arguments: tc.Function.Arguments,
			}})
		}
		if ch.FinishReason != "" {
			s.sawFinish = true
			s.pend = append(s.pend, llm.Delta{Kind: llm.DeltaFinish, FinishReason: s.finishReason(ch.FinishReason)})
		}
	}
	if c.JSON.Usage.Valid() {
		u := &c.Usage
		// prompt_tokens includes cached_tokens; llm.Usage counts them apart
		// (InputTokens is the uncached input), so cost is not charged twice.
		s.pend = append(s.pend, llm.Delta{Kind: llm.DeltaUsage, Usage: llm.Usage{
			InputTokens:      max(int(u.PromptTokens-u.PromptTokensDetails.CachedTokens), 0),
			OutputTokens:     int(u.CompletionTokens),
			CacheReadTokens:  int(u.PromptTokensDetails.CachedTokens),
			CacheWriteTokens: int(u.PromptTokensDetails.CacheWriteTokens),
		}})
	}
}

func (s *stream) finishReason(r string) string {
	switch r {
	case "tool_calls", "function_call":
		return llm.FinishToolCalls
	case "length":
		return llm.FinishLength
	case "content_filter":
		return llm.FinishFiltered
	}
	// Some compatible servers (older Ollama) say "stop" after emitting tool calls.
	if s.sawToolCall {
		return llm.FinishToolCalls
	}
	return llm.FinishStop
}
