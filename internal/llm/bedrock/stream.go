package bedrock

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/chatterhq/chatter/internal/llm"
)

// stream adapts the SDK's event channel to llm.Stream. It starts no goroutine of its
// own: the SDK's reader goroutines end when the event stream is closed, which Close,
// cancellation and the end of the stream all do.
type stream struct {
	ctx      context.Context
	api      ConverseStreamAPI
	in       *bedrockruntime.ConverseStreamInput
	provider string

	es      *bedrockruntime.ConverseStreamEventStream
	events  <-chan types.ConverseStreamOutput
	started bool
	done    bool
	stopped bool // messageStop arrived; without it the reply was cut short
	cur     llm.Delta
	err     error
}

func (s *stream) Next() bool {
	if s.done {
		return false
	}
	if !s.started {
		s.started = true
		if !s.open() {
			return false
		}
	}
	for {
		// Checked before every receive so that a cancelled call stops at once even
		// when events are already buffered.
		if err := s.ctx.Err(); err != nil {
			s.fail(llm.ContextError(s.provider, err))
			return false
		}
		select {
		case <-s.ctx.Done():
			s.fail(llm.ContextError(s.provider, s.ctx.Err()))
			return false
		case ev, ok := <-s.events:
			if !ok {
				s.end()
				return false
			}
			if s.convert(ev) {
				return true
			}
		}
	}
}

func (s *stream) Current() llm.Delta { return s.cur }

func (s *stream) Err() error { return s.err }

// Close releases the connection. Errors of the stream itself are reported by Err.
func (s *stream) Close() error {
	s.done = true
	if s.es != nil {
		_ = s.es.Close()
	}
	return nil
}

func (s *stream) open() bool {
	out, err := s.api.ConverseStream(s.ctx, s.in)
	if err != nil {
		s.fail(callError(s.ctx, s.provider, err))
		return false
	}
	var es *bedrockruntime.ConverseStreamEventStream
	if out != nil {
		es = out.GetStream()
	}
	if es == nil || es.Reader == nil {
		s.fail(&llm.Error{Provider: s.provider, Code: llm.CodeMalformed, Message: "response carries no event stream"})
		return false
	}
	s.es = es
	s.events = es.Events()
	return true
}

// end runs when the SDK closes the event channel: cleanly, or because an exception
// frame, a bad frame or a broken connection ended it.
func (s *stream) end() {
	var err error
	if s.es != nil {
		err = s.es.Err()
	}
	switch {
	case s.ctx.Err() != nil:
		s.fail(llm.ContextError(s.provider, s.ctx.Err()))
	case err != nil:
		s.fail(streamError(s.provider, err))
	case !s.stopped:
		// The SDK reads a truncated frame as a clean end of stream.
		s.fail(&llm.Error{Provider: s.provider, Code: llm.CodeUnavailable, Message: "event stream ended before messageStop"})
	default:
		s.fail(nil)
	}
}

func (s *stream) fail(err *llm.Error) {
	if err != nil {
		s.err = err
	}
	_ = s.Close()
}

// convert sets s.cur from one event and reports whether it produced a delta.
func (s *stream) convert(ev types.ConverseStreamOutput) bool {
	switch v := ev.(type) {
	case *types.ConverseStreamOutputMemberContentBlockStart:
		tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse)
		if !ok {
			return false
		}
		s.cur = llm.Delta{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{
			Index: blockIndex(v.Value.ContentBlockIndex),
			ID:    aws.ToString(tu.Value.ToolUseId),
			Name:  aws.ToString(tu.Value.Name),
		}}
		return true
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		switch d := v.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			if d.Value == "" {
				return false
			}
			s.cur = llm.Delta{Kind: llm.DeltaText, Text: d.Value}
			return true
		case *types.ContentBlockDeltaMemberToolUse:
			if d.Value.Input == nil || *d.Value.Input == "" {
				return false
			}
			s.cur = llm.Delta{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{
				Index:     blockIndex(v.Value.ContentBlockIndex),
				Arguments: *d.Value.Input,
			}}
			return true
		}
		// Reasoning, citations and other block kinds have no place in llm.Delta yet.
		return false
	case *types.ConverseStreamOutputMemberMessageStop:
		s.stopped = true
		s.cur = llm.Delta{Kind: llm.DeltaFinish, FinishReason: finishReason(v.Value.StopReason)}
		return true
	case *types.ConverseStreamOutputMemberMetadata:
		u := v.Value.Usage
		if u == nil {
			return false
		}
		s.cur = llm.Delta{Kind: llm.DeltaUsage, Usage: llm.Usage{
			InputTokens:      int(aws.ToInt32(u.InputTokens)),
			OutputTokens:     int(aws.ToInt32(u.OutputTokens)),
			CacheReadTokens:  int(aws.ToInt32(u.CacheReadInputTokens)),
			CacheWriteTokens: int(aws.ToInt32(u.CacheWriteInputTokens)),
		}}
		return true
	}
	// messageStart, contentBlockStop and event types newer than this SDK carry
	// nothing a Delta needs.
	return false
}

// blockIndex keys tool-call fragments: Bedrock numbers content blocks uniquely within
// a message, which is all llm.ToolCallDelta.Index has to be.
func blockIndex(p *int32) int { return int(aws.ToInt32(p)) }

// finishReason normalises Bedrock stop reasons. Reasons with no llm equivalent
// (malformed_tool_use, ...) pass through unchanged rather than pose as "stop".
func finishReason(r types.StopReason) string {
	switch r {
	case types.StopReasonEndTurn, types.StopReasonStopSequence:
		return llm.FinishStop
	case types.StopReasonToolUse:
		return llm.FinishToolCalls
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return llm.FinishLength
	case types.StopReasonContentFiltered, types.StopReasonGuardrailIntervened:
		return llm.FinishFiltered
	case "":
		return llm.FinishStop
	}
	return string(r)
}
