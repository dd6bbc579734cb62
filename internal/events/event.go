// Package events defines chatter's workflow events — one stream that replaces every
// ad-hoc monitoring call — the EventBridge Publisher that sends them, and the
// subscribers that need nothing but the event: metrics (EMF lines) and logs. The
// execution-record subscriber, which needs the store, is events/record.
package events

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Source is the EventBridge source of every chatter event.
const Source = "chatter.workflows"

// SchemaVersion versions the detail schema.
const SchemaVersion = 1

// Event types (the EventBridge DetailType).
const (
	WorkflowStarted    = "workflow_started"
	LLMLoaded          = "llm_loaded"
	ToolsLoaded        = "tools_loaded"
	RetrieverLoaded    = "retriever_loaded"
	ExecutionStarted   = "execution_started"
	NodeExecuted       = "node_executed"
	ToolCalled         = "tool_called"
	TokenUsage         = "token_usage"
	ExecutionCompleted = "execution_completed"
	ExecutionFailed    = "execution_failed"
	ExecutionCancelled = "execution_cancelled"
	MessageSaved       = "message_saved"
	// SummaryFailed: the memory node could not fold the messages that left its
	// window into the conversation summary; the run went on without the new summary.
	SummaryFailed = "summary_failed"
	// ExecutionWaiting: the run reached a human node and ended its invocation with
	// status waiting, its state checkpointed (not terminal).
	ExecutionWaiting = "execution_waiting"
	// ExecutionResumed: a person's input continued a waiting run (same execution,
	// its event sequence continued).
	ExecutionResumed = "execution_resumed"
)

// Types lists every event type (the record subscriber's rule takes them all).
var Types = []string{WorkflowStarted, LLMLoaded, ToolsLoaded, RetrieverLoaded, ExecutionStarted, NodeExecuted,
	ToolCalled, TokenUsage, ExecutionCompleted, ExecutionFailed, ExecutionCancelled, MessageSaved, SummaryFailed, ExecutionWaiting, ExecutionResumed}

// SourceRef names what an execution ran.
type SourceRef struct {
	Kind    string `json:"kind"`
	ID      string `json:"id,omitempty"`
	Version int    `json:"version,omitempty"`
}

// Event is the detail of one workflow event. Seq numbers an execution's events from 1.
type Event struct {
	ID          string `json:"id"` // ID(ExecutionID, Seq)
	Version     int    `json:"version"`
	Type        string `json:"type"`
	ExecutionID string `json:"execution_id"`
	UserID      string `json:"user_id"`
	// RequestID is the id of the HTTP request that started the run (package wire/requestid);
	// empty for runs started outside one.
	RequestID      string    `json:"request_id,omitempty"`
	ConversationID string    `json:"conversation_id,omitempty"`
	Source         SourceRef `json:"source"`
	Seq            int       `json:"seq"`
	Time           time.Time `json:"time"`
	Data           any       `json:"data"`
}

// Terminal reports whether the event ends an execution.
func (e *Event) Terminal() bool {
	return e.Type == ExecutionCompleted || e.Type == ExecutionFailed || e.Type == ExecutionCancelled
}

// Recorder keeps events in memory, for offline runs and tests.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Emit records an event.
func (r *Recorder) Emit(_ context.Context, e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Flush does nothing: a recorder has nothing in flight.
func (r *Recorder) Flush(context.Context, string) error { return nil }

// Events returns a copy of the recorded events.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Reset forgets recorded events.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = r.events[:0]
	r.mu.Unlock()
}

// ID is the id of an execution's seq-th event: the execution id and the seq, unique
// because execution ids are, and the same on every delivery of the event — so a run
// needs one id source (its execution id), not one per event.
func ID(executionID string, seq int) string { return string(AppendID(nil, executionID, seq)) }

// AppendID appends ID(executionID, seq) to dst.
func AppendID(dst []byte, executionID string, seq int) []byte {
	dst = append(dst, executionID...)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(seq), 10)
}
