package executor

import (
	"sync"

	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/wire"
)

// Chunk types, in the order a client sees them.
const (
	ChunkStart        = "start"
	ChunkNodeStarted  = "node_started"
	ChunkNodeFinished = "node_finished"
	ChunkToken        = "token"
	ChunkToolCall     = "tool_call"
	ChunkToolResult   = "tool_result"
	ChunkSources      = "sources"
	ChunkUsage        = "usage"
	ChunkComplete     = "complete"
	ChunkError        = "error"
	ChunkDone         = "done"
)

// Chunk is one piece of a run as it happens. Seq numbers a run's chunks from 1 (the
// SSE id). Its JSON is the frame's data (frame.go).
type Chunk struct {
	Seq            int                 `json:"-"`
	Type           string              `json:"type"`
	ExecutionID    string              `json:"execution_id,omitempty"`
	ConversationID string              `json:"conversation_id,omitempty"`
	MessageID      string              `json:"message_id,omitempty"` // the stored reply, on the chunks that end a run
	NodeID         string              `json:"node_id,omitempty"`
	Kind           string              `json:"kind,omitempty"`
	Content        string              `json:"content,omitempty"`
	Tool           *ToolChunk          `json:"tool,omitempty"`
	Sources        []retrieval.Passage `json:"sources,omitempty"`
	Usage          *UsageBody          `json:"usage,omitempty"`
	Response       *ChatResponse       `json:"response,omitempty"`
	Error          *ErrorBody          `json:"error,omitempty"`
	DurationMS     float64             `json:"duration_ms,omitempty"`
}

// ToolChunk describes a tool call or its result.
type ToolChunk struct {
	CallID     string  `json:"call_id"`
	Name       string  `json:"name"`
	Arguments  string  `json:"arguments,omitempty"`
	Result     string  `json:"result,omitempty"`
	IsError    bool    `json:"is_error,omitempty"`
	Skipped    string  `json:"skipped,omitempty"` // why the call was not made (store.ToolCallRecord.Skipped)
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// ErrorBody is an error as clients see it (wire.ErrorBody, the one shape).
type ErrorBody = wire.ErrorBody

// Sink receives a run's chunks. Send is never called concurrently. An error from
// Send (the client went away) cancels the run.
type Sink interface {
	Send(c Chunk) error
}

// Discard is the standard-mode sink: the Result carries everything.
var Discard Sink = discard{}

type discard struct{}

func (discard) Send(Chunk) error { return nil }

// SinkFunc adapts a function to Sink.
type SinkFunc func(Chunk) error

func (f SinkFunc) Send(c Chunk) error { return f(c) }

// Collector keeps every chunk, for tests and tools.
type Collector struct {
	mu     sync.Mutex
	Chunks []Chunk
}

func (c *Collector) Send(ch Chunk) error {
	c.mu.Lock()
	c.Chunks = append(c.Chunks, ch)
	c.mu.Unlock()
	return nil
}

// Text concatenates the token chunks.
func (c *Collector) Text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []byte
	for _, ch := range c.Chunks {
		if ch.Type == ChunkToken {
			s = append(s, ch.Content...)
		}
	}
	return string(s)
}

// Types lists the chunk types in order.
func (c *Collector) Types() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.Chunks))
	for i, ch := range c.Chunks {
		out[i] = ch.Type
	}
	return out
}
