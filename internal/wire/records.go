package wire

import (
	"encoding/json"
	"time"
)

// ToolCall is one tool call the model asked for during a turn, with its result, as
// messages, execution records and answers show it (store.ToolCallRecord is this
// type). A call the run did not make has Skipped set to the reason, IsError set, and
// a Result telling the model why.
type ToolCall struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Arguments  json.RawMessage `json:"arguments"`
	Result     string          `json:"result"`
	IsError    bool            `json:"is_error,omitempty"`
	Skipped    string          `json:"skipped,omitempty"`
	DurationMS float64         `json:"duration_ms"`
}

// SourceRef names what an execution ran (store.SourceRef is this type).
type SourceRef struct {
	Kind    string `json:"kind"`
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Version int    `json:"version,omitempty"`
}

// NodeRun is one node visit in an execution's log (store.NodeRun is this type).
type NodeRun struct {
	Step       int       `json:"step"`
	NodeID     string    `json:"node_id"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"` // ok | error | skipped
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// Passage is one retrieved piece of a document, a run's source
// (retrieval.Passage is this type).
type Passage struct {
	DocumentID string  `json:"document_id"`
	ChunkID    string  `json:"chunk_id,omitempty"`
	Title      string  `json:"title,omitempty"`
	Text       string  `json:"text"`
	Score      float64 `json:"score"`
}
