package llm

import (
	"encoding/json"
	"strings"
)

// Response is a collected stream.
type Response struct {
	Text         string
	ToolCalls    []ToolCall
	Usage        Usage
	FinishReason string
}

// Accumulator folds deltas into a Response. The executor feeds it while forwarding
// deltas to a sink, so streaming and standard modes share one path.
type Accumulator struct {
	text      strings.Builder
	calls     []toolCallBuf
	usage     Usage
	finish    string
	started   bool // a content delta arrived
	usageSeen bool
}

type toolCallBuf struct {
	index int
	id    string
	name  string
	args  []byte // not a strings.Builder: the slice of buffers grows and copies them
}

// Add folds one delta in.
func (a *Accumulator) Add(d Delta) {
	switch d.Kind {
	case DeltaText:
		a.started = a.started || d.Text != ""
		a.text.WriteString(d.Text)
	case DeltaToolCall:
		a.started = true
		tc := d.ToolCall
		var b *toolCallBuf
		for i := range a.calls {
			if a.calls[i].index == tc.Index {
				b = &a.calls[i]
				break
			}
		}
		if b == nil {
			a.calls = append(a.calls, toolCallBuf{index: tc.Index})
			b = &a.calls[len(a.calls)-1]
		}
		if tc.ID != "" {
			b.id = tc.ID
		}
		if tc.Name != "" {
			b.name = tc.Name
		}
		b.args = append(b.args, tc.Arguments...)
	case DeltaUsage:
		a.usageSeen = true
		u := d.Usage
		if u.InputTokens != 0 {
			a.usage.InputTokens = u.InputTokens
		}
		if u.OutputTokens != 0 {
			a.usage.OutputTokens = u.OutputTokens
		}
		if u.CacheReadTokens != 0 {
			a.usage.CacheReadTokens = u.CacheReadTokens
		}
		if u.CacheWriteTokens != 0 {
			a.usage.CacheWriteTokens = u.CacheWriteTokens
		}
	case DeltaFinish:
		a.finish = d.FinishReason
	}
}

// Started reports whether a content delta (non-empty text or a tool-call fragment)
// has been added. It is the one definition of a started call: a failed call may be
// retried only before it started, since its content may already have been shown.
// Usage, finish reasons and empty text (Anthropic's message_start, pings) do not
// start a call.
func (a *Accumulator) Started() bool { return a.started }

// ReportedUsage reports whether the stream carried any usage, so a caller can tell
// a call that used no tokens from one whose provider never said.
func (a *Accumulator) ReportedUsage() bool { return a.usageSeen }

// Text returns the text so far.
func (a *Accumulator) Text() string { return a.text.String() }

// Response returns the collected response. Tool-call arguments that are empty become
// "{}"; arguments that are not valid JSON are kept as a JSON string so they can still
// be reported back to the model as an error.
func (a *Accumulator) Response() Response {
	r := Response{Text: a.text.String(), Usage: a.usage, FinishReason: a.finish}
	if len(a.calls) > 0 {
		r.ToolCalls = make([]ToolCall, len(a.calls))
		for i := range a.calls {
			b := &a.calls[i]
			args := string(b.args)
			var raw json.RawMessage
			switch {
			case strings.TrimSpace(args) == "":
				raw = json.RawMessage("{}")
			case json.Valid([]byte(args)):
				raw = json.RawMessage(args)
			default:
				raw, _ = json.Marshal(args)
			}
			r.ToolCalls[i] = ToolCall{ID: b.id, Name: b.name, Arguments: raw}
		}
		if r.FinishReason == "" {
			r.FinishReason = FinishToolCalls
		}
	}
	if r.FinishReason == "" {
		r.FinishReason = FinishStop
	}
	return r
}

// Collect reads a stream to its end and returns the collected response.
func Collect(s Stream) (Response, error) {
	defer s.Close()
	var a Accumulator
	for s.Next() {
		a.Add(s.Current())
	}
	return a.Response(), s.Err()
}

// SliceStream is a Stream over fixed deltas, then err. Useful for providers whose
// reply is already known and for tests.
type SliceStream struct {
	Deltas []Delta
	Fail   error
	i      int
	cur    Delta
	done   bool
}

func (s *SliceStream) Next() bool {
	if s.done || s.i >= len(s.Deltas) {
		s.done = true
		return false
	}
	s.cur = s.Deltas[s.i]
	s.i++
	return true
}

func (s *SliceStream) Current() Delta { return s.cur }

func (s *SliceStream) Err() error {
	if s.done {
		return s.Fail
	}
	return nil
}

func (s *SliceStream) Close() error { s.done = true; return nil }

// ErrStream returns a stream that yields nothing and fails with err.
func ErrStream(err error) Stream { return &SliceStream{Fail: err, done: true} }
