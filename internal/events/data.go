package events

import (
	"time"

	"github.com/chatterhq/chatter/internal/wire"
)

// Typed event data. Field names are part of the detail schema.

// WorkflowStartedData is the data of workflow_started.
type WorkflowStartedData struct {
	Mode    string `json:"mode"`
	Name    string `json:"name,omitempty"`
	Nodes   int    `json:"nodes"`
	Message int    `json:"message_bytes"`
}

// LLMLoadedData is the data of llm_loaded.
type LLMLoadedData struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

// ToolsLoadedData is the data of tools_loaded.
type ToolsLoadedData struct {
	Tools []string `json:"tools"`
}

// RetrieverLoadedData is the data of retriever_loaded: the documents the run's
// retrieval is scoped to, and how many (0: every document of the user's). How many
// passages each retrieval found is its node_executed detail.
type RetrieverLoadedData struct {
	DocumentIDs   []string `json:"document_ids,omitempty"`
	DocumentCount int      `json:"document_count"`
}

// NodeExecutedData is the data of node_executed.
type NodeExecutedData struct {
	NodeID     string  `json:"node_id"`
	Kind       string  `json:"kind"`
	Step       int     `json:"step"`
	Status     string  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

// ToolCalledData is the data of tool_called.
type ToolCalledData struct {
	NodeID  string `json:"node_id"`
	CallID  string `json:"call_id"`
	Tool    string `json:"tool"`
	IsError bool   `json:"is_error"`
	// Skipped is why the call was not made (store.SkippedMaxToolCalls); empty when it ran.
	Skipped    string  `json:"skipped,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// TokenUsageData is the data of token_usage (one per model call): the call's usage
// in its wire shape, flattened.
type TokenUsageData struct {
	NodeID   string `json:"node_id"`
	Provider string `json:"provider"`
	Model    string `json:"model"`
	wire.Usage
	DurationMS float64 `json:"duration_ms"`
}

// MessageSavedData is the data of message_saved.
type MessageSavedData struct {
	MessageID string `json:"message_id"`
	Role      string `json:"role"`
	Seq       int    `json:"seq"`
	Status    string `json:"status"`
}

// SummaryFailedData is the data of summary_failed: which fold failed and why, as a
// code (never the provider's message, which may quote the conversation).
type SummaryFailedData struct {
	NodeID   string `json:"node_id"`
	Provider string `json:"provider,omitempty"`
	Model    string `json:"model,omitempty"`
	// ErrorCode is the provider's llm error code, "storage_error" when the messages to
	// fold could not be read, "empty_summary" when the model answered nothing.
	ErrorCode string `json:"error_code"`
	// FromSeq and ThroughSeq are the messages the fold would have covered
	// (FromSeq+1..ThroughSeq); a later run folds them.
	FromSeq    int `json:"from_seq"`
	ThroughSeq int `json:"through_seq"`
}

// ExecutionEndData is the data of execution_completed, execution_failed and
// execution_cancelled: the totals of the run (its usage in the wire shape,
// flattened).
type ExecutionEndData struct {
	Status     string  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	wire.Usage
	ToolCalls    int    `json:"tool_calls"`
	Steps        int    `json:"steps"`
	Provider     string `json:"provider,omitempty"`
	Model        string `json:"model,omitempty"`
	ErrorCode    string `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	Output       string `json:"output,omitempty"`
	// OutputBytes is the size of the reply; set by WithoutContent, which empties
	// Output.
	OutputBytes int `json:"output_bytes,omitempty"`
	// Rejected: the request was refused before its run started (preparation: a
	// template not found, an invalid workflow, …); nothing ran and nothing was
	// stored. Metrics count it as RequestRejected, not as an execution.
	Rejected bool `json:"rejected,omitempty"`
	// CancelledBy names the user who cancelled the run (execution_cancelled after a
	// cancel request); empty when the client went away or the caller's context ended.
	CancelledBy string `json:"cancelled_by,omitempty"`
}

// ExecutionWaitingData is the data of execution_waiting: where the run waits, for
// what input and until when (the prompt, the workflow's text, stays on the record).
type ExecutionWaitingData struct {
	NodeID    string    `json:"node_id"`
	Input     string    `json:"input"` // approval, text or edit (workflow.Human*)
	ExpiresAt time.Time `json:"expires_at"`
	Steps     int       `json:"steps"`
}

// ExecutionResumedData is the data of execution_resumed: who answered, how long
// the run waited, and the decision of an approval (never a person's text: that is
// content; its size stays).
type ExecutionResumedData struct {
	NodeID    string  `json:"node_id"`
	Input     string  `json:"input"`
	Decision  string  `json:"decision,omitempty"` // approve or reject (approval input)
	TextBytes int     `json:"text_bytes,omitempty"`
	ResumedBy string  `json:"resumed_by"`
	WaitedMS  float64 `json:"waited_ms"`
}
