package anthropic

import (
	"context"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"

	"github.com/chatterhq/chatter/internal/llm"
)

// stream adapts the SDK's event stream to llm.Stream. It reads on the caller's
// goroutine only, so closing the body is all the cleanup there is.
type stream struct {
	ctx    context.Context
	p      *Provider
	events *ssestream.Stream[anthropic.MessageStreamEventUnion]

	cur llm.Delta
	// One event can carry two deltas (message_delta: usage and stop reason).
	queue  [2]llm.Delta
	nq, iq int

	// toolBlocks[i] is the content-block index of the i-th tool_use. Deltas carry the
	// tool's ordinal rather than the block index, so calls are numbered 0, 1, ... as
	// with other providers, however many text blocks precede them.
	toolBlocks []int64

	stopped bool // message_stop seen
	done    bool
	closed  bool
	err     *llm.Error
}

func newStream(ctx context.Context, p *Provider, events *ssestream.Stream[anthropic.MessageStreamEventUnion]) *stream {
	return &stream{ctx: ctx, p: p, events: events}
}

func (s *stream) Next() bool {
	if s.iq < s.nq {
		s.cur = s.queue[s.iq]
		s.iq++
		return true
	}
	if s.done {
		return false
	}
	for {
		// A reply that reached message_stop is complete, even if ctx ends just after.
		if s.stopped {
			s.finish(nil)
			return false
		}
		// Checked before every read: a cancelled call must end even when the next
		// event is already buffered.
		if err := s.ctx.Err(); err != nil {
			s.finish(err)
			return false
		}
		if !s.events.Next() {
			err := s.events.Err()
			if err == nil {
				// A clean EOF before message_stop is a cut connection, not an answer:
				// reporting it keeps a truncated reply from passing as complete.
				err = errTruncated
			}
			s.finish(err)
			return false
		}
		s.nq, s.iq = 0, 0
		s.handle(s.events.Current())
		if s.nq > 0 {
			s.cur = s.queue[0]
			s.iq = 1
			return true
		}
	}
}

func (s *stream) push(d llm.Delta) {
	s.queue[s.nq] = d
	s.nq++
}

// handle turns one event into deltas. Event and block types it does not know
// (thinking, citations, server tools, ones added to the API later) are skipped, as
// the API's versioning policy expects of clients.
func (s *stream) handle(ev anthropic.MessageStreamEventUnion) {
	switch ev.Type {
	case "message_start":
		u := ev.Message.Usage
		s.pushUsage(llm.Usage{
			InputTokens:      int(u.InputTokens),
			OutputTokens:     int(u.OutputTokens),
			CacheReadTokens:  int(u.CacheReadInputTokens),
			CacheWriteTokens: int(u.CacheCreationInputTokens),
		})
	case "content_block_start":
		if ev.ContentBlock.Type == "tool_use" {
			s.toolBlocks = append(s.toolBlocks, ev.Index)
			s.push(llm.Delta{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{
				Index: len(s.toolBlocks) - 1,
				ID:    ev.ContentBlock.ID,
				Name:  ev.ContentBlock.Name,
			}})
		}
	case "content_block_delta":
		switch ev.Delta.Type {
		case "text_delta":
			if ev.Delta.Text != "" {
				s.push(llm.Delta{Kind: llm.DeltaText, Text: ev.Delta.Text})
			}
		case "input_json_delta":
			// server_tool_use blocks stream input too; only our tools' input counts.
			if i := s.toolOrdinal(ev.Index); i >= 0 && ev.Delta.PartialJSON != "" {
				s.push(llm.Delta{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{Index: i, Arguments: ev.Delta.PartialJSON}})
			}
		}
	case "message_delta":
		u := ev.Usage
		s.pushUsage(llm.Usage{
			InputTokens:      int(u.InputTokens),
			OutputTokens:     int(u.OutputTokens),
			CacheReadTokens:  int(u.CacheReadInputTokens),
			CacheWriteTokens: int(u.CacheCreationInputTokens),
		})
		if ev.Delta.StopReason != "" {
			s.push(llm.Delta{Kind: llm.DeltaFinish, FinishReason: finishReason(ev.Delta.StopReason)})
		}
	case "message_stop":
		s.stopped = true
	}
}

func (s *stream) pushUsage(u llm.Usage) {
	if u != (llm.Usage{}) {
		s.push(llm.Delta{Kind: llm.DeltaUsage, Usage: u})
	}
}

func (s *stream) toolOrdinal(block int64) int {
	for i, b := range s.toolBlocks {
		if b == block {
			return i
		}
	}
	return -1
}

func finishReason(r anthropic.StopReason) string {
	switch r {
	case anthropic.StopReasonToolUse:
		return llm.FinishToolCalls
	case anthropic.StopReasonMaxTokens, anthropic.StopReasonModelContextWindowExceeded:
		return llm.FinishLength
	case anthropic.StopReasonRefusal:
		return llm.FinishFiltered
	default: // end_turn, stop_sequence, pause_turn
		return llm.FinishStop
	}
}

func (s *stream) finish(err error) {
	if err != nil {
		s.err = s.p.classify(s.ctx, err)
	}
	s.done = true
	s.close()
}

func (s *stream) close() {
	if !s.closed {
		s.closed = true
		// The body close error says nothing about the reply the caller already has.
		_ = s.events.Close()
	}
}

func (s *stream) Current() llm.Delta { return s.cur }

func (s *stream) Err() error {
	if s.err == nil {
		return nil
	}
	return s.err
}

// Close releases the connection; it is safe to call more than once and after the
// stream ended on its own.
func (s *stream) Close() error {
	s.done = true
	s.nq, s.iq = 0, 0
	s.close()
	return nil
}
