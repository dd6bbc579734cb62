// Package wire is the one owner of chatter's wire contract: the request and answer
// bodies of its routes (the predecessor's shapes, with chatter's richer data riding
// along as extra properties wherever it does not collide with an old field; where
// it would, the old shape wins), the stream chunks (stream.go), the OpenAI Chat
// Completions shapes of the /v1 routes and their error mapping (openai.go), and the records
// those bodies embed (records.go: tool calls, node runs, sources, passages — the
// store and the retriever use these types). The error codes are its leaf package
// errcode. wire imports no other chatter package: handlers, the executor, the
// subscribers and the CLI all speak it. Stored records become these shapes through
// package fromstore, one conversion each.
//
// Choices where the old contract is silent:
//   - A conversation's context_window, memory_enabled, memory_strategy,
//     retrieval_limit and retrieval_score_threshold are chatter's defaults (memory
//     window 20, memory on, no strategy, top_k 4, no score threshold): a run takes
//     its configuration from its request, not from the conversation.
//   - last_message_at is null while a conversation has no message.
//   - A message's token counts, cost, model, provider and response time are set on
//     assistant messages and null on the others; cost is null when unknown
//     (cost_known false); finish_reason is null (chatter keeps the message's status,
//     complete or incomplete, instead).
//   - An execution's definition_id is the definition it ran, "" for a template,
//     dynamic or inline run (source says what ran); input_data is null (the
//     conversation's messages hold the input); output_data is chatter's output object
//     (response, message_id, tool_calls, sources, variables); debug_info and
//     debug_details are null. execution_log (the node log) is set on the detail only.
package wire

import (
	"time"
)

// Conversation is the predecessor's ConversationResponse.
type Conversation struct {
	ID                      string         `json:"id"`
	UserID                  string         `json:"user_id"`
	Title                   string         `json:"title"`
	Description             *string        `json:"description"`
	ProfileID               *string        `json:"profile_id"`
	Status                  string         `json:"status"`
	LLMProvider             *string        `json:"llm_provider"`
	LLMModel                *string        `json:"llm_model"`
	Temperature             *float64       `json:"temperature"`
	MaxTokens               *int           `json:"max_tokens"`
	EnableRetrieval         bool           `json:"enable_retrieval"`
	MessageCount            int            `json:"message_count"`
	TotalTokens             int            `json:"total_tokens"`
	TotalCost               float64        `json:"total_cost"`
	SystemPrompt            *string        `json:"system_prompt"`
	ContextWindow           int            `json:"context_window"`
	MemoryEnabled           bool           `json:"memory_enabled"`
	MemoryStrategy          *string        `json:"memory_strategy"`
	RetrievalLimit          int            `json:"retrieval_limit"`
	RetrievalScoreThreshold float64        `json:"retrieval_score_threshold"`
	Tags                    []string       `json:"tags"`
	ExtraMetadata           map[string]any `json:"extra_metadata"`
	WorkflowConfig          map[string]any `json:"workflow_config"`
	CreatedAt               time.Time      `json:"created_at"`
	UpdatedAt               time.Time      `json:"updated_at"`
	LastMessageAt           *time.Time     `json:"last_message_at"`
	// chatter's additions.
	Version int64  `json:"version"`
	Summary string `json:"summary,omitempty"`
}

// ConversationWithMessages is the predecessor's ConversationWithMessages.
type ConversationWithMessages struct {
	Conversation
	Messages []Message `json:"messages"`
}

// Message is the predecessor's MessageResponse.
type Message struct {
	Role             string    `json:"role"`
	Content          string    `json:"content"`
	ID               string    `json:"id"`
	ConversationID   string    `json:"conversation_id"`
	SequenceNumber   int       `json:"sequence_number"`
	PromptTokens     *int      `json:"prompt_tokens"`
	CompletionTokens *int      `json:"completion_tokens"`
	TotalTokens      *int      `json:"total_tokens"`
	ModelUsed        *string   `json:"model_used"`
	ProviderUsed     *string   `json:"provider_used"`
	ResponseTimeMS   *int      `json:"response_time_ms"`
	Cost             *float64  `json:"cost"`
	FinishReason     *string   `json:"finish_reason"`
	Rating           *float64  `json:"rating"`
	RatingCount      int       `json:"rating_count"`
	CreatedAt        time.Time `json:"created_at"`
	// chatter's additions: seq is sequence_number under chatter's name.
	Seq         int        `json:"seq"`
	Status      string     `json:"status"`
	ExecutionID string     `json:"execution_id,omitempty"`
	ToolCalls   []ToolCall `json:"tool_calls,omitempty"`
	Sources     []Passage  `json:"sources,omitempty"`
	CostKnown   bool       `json:"cost_known"`
}

// Usage is token usage with cache tokens and whether the cost is known.
type Usage struct {
	InputTokens      int     `json:"input_tokens"`
	OutputTokens     int     `json:"output_tokens"`
	TotalTokens      int     `json:"total_tokens"`
	CacheReadTokens  int     `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int     `json:"cache_write_tokens,omitempty"`
	Cost             float64 `json:"cost"`
	CostKnown        bool    `json:"cost_known"`
}

// ErrorBody is a run's error.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	NodeID  string `json:"node_id,omitempty"`
}

// Output is what a run produced (output_data).
type Output struct {
	Response  string         `json:"response"`
	MessageID string         `json:"message_id,omitempty"`
	ToolCalls []ToolCall     `json:"tool_calls"`
	Sources   []Passage      `json:"sources"`
	Variables map[string]any `json:"variables"`
	Errors    []string       `json:"errors,omitempty"`
}

// Execution is the predecessor's WorkflowExecutionResponse of an execution record.
type Execution struct {
	ID              string         `json:"id"`
	DefinitionID    string         `json:"definition_id"`
	OwnerID         string         `json:"owner_id"`
	Status          string         `json:"status"`
	InputData       map[string]any `json:"input_data"`
	StartedAt       *time.Time     `json:"started_at"`
	CompletedAt     *time.Time     `json:"completed_at"`
	ExecutionTimeMS *int           `json:"execution_time_ms"`
	OutputData      *Output        `json:"output_data"`
	ErrorMessage    *string        `json:"error_message"`
	TokensUsed      int            `json:"tokens_used"`
	Cost            float64        `json:"cost"`
	ExecutionLog    []NodeRun      `json:"execution_log"`
	DebugInfo       map[string]any `json:"debug_info"`
	CreatedAt       *time.Time     `json:"created_at"`
	UpdatedAt       *time.Time     `json:"updated_at"`
	// chatter's additions: execution_id is id, duration_ms the exact
	// execution_time_ms; error carries the stable code.
	ExecutionID    string     `json:"execution_id"`
	ConversationID string     `json:"conversation_id"`
	Source         SourceRef  `json:"source"`
	Usage          *Usage     `json:"usage"`
	Steps          int        `json:"steps"`
	ToolCalls      int        `json:"tool_calls"`
	DurationMS     float64    `json:"duration_ms"`
	Error          *ErrorBody `json:"error,omitempty"`
	Mode           string     `json:"mode"`
	Provider       string     `json:"provider,omitempty"`
	Model          string     `json:"model,omitempty"`
	// Redacted: the conversation (or a message of the turn) was deleted; the
	// content is gone (see store.Redact).
	Redacted bool `json:"redacted,omitempty"`
	// CancelRequested: a cancel was asked for (POST /executions/{id}/cancel);
	// CancelledBy names who asked. Deadline: when a running execution is overdue
	// and the sweeper ends it (failed, timeout).
	CancelRequested bool       `json:"cancel_requested,omitempty"`
	CancelledBy     string     `json:"cancelled_by,omitempty"`
	Deadline        *time.Time `json:"deadline,omitempty"`
	// Waiting: the run waits for a person at a human node (status waiting).
	Waiting *Waiting `json:"waiting,omitempty"`
}

// Waiting is what a run waiting at a human node asks of a person: answer with POST
// Resume (/api/v1/executions/{id}/resume) before ExpiresAt. Input is approval
// ({"action":"approve"|"reject"}), text or edit ({"text":"..."}: for edit, the
// run's reply so far, which is the response of the waiting run, edited).
type Waiting struct {
	NodeID    string    `json:"node_id"`
	Prompt    string    `json:"prompt"`
	Input     string    `json:"input"`
	ExpiresAt time.Time `json:"expires_at"`
	Resume    string    `json:"resume"`
}

// ResumePath is the route that resumes execution id (the Waiting.Resume link).
func ResumePath(id string) string { return "/api/v1/executions/" + id + "/resume" }

// ExecutionDetail is the predecessor's DetailedWorkflowExecutionResponse: the
// execution with its node log and the log entries built from it.
type ExecutionDetail struct {
	Execution
	Logs         []LogEntry     `json:"logs"`
	DebugDetails map[string]any `json:"debug_details"`
}

// Log levels of LogEntry.
const (
	LevelInfo    = "info"
	LevelWarning = "warning"
	LevelError   = "error"
)

// LogEntry is the predecessor's WorkflowExecutionLogEntry: the run's start, one
// entry per node visit, and its end. Data holds the node visit as chatter records
// it (step, kind, status, duration_ms, detail, error).
type LogEntry struct {
	Timestamp       time.Time      `json:"timestamp"`
	Level           string         `json:"level"`
	NodeID          *string        `json:"node_id"`
	StepName        *string        `json:"step_name"`
	Message         string         `json:"message"`
	Data            map[string]any `json:"data"`
	ExecutionTimeMS *int           `json:"execution_time_ms"`
}

// InlineExecution is the answer of an inline graph's execution: the execution with
// the predecessor's custom execution fields beside it — response (the reply),
// metadata (the request's) and execution_summary.
type InlineExecution struct {
	*Execution
	Response         string         `json:"response"`
	Metadata         map[string]any `json:"metadata"`
	ExecutionSummary InlineSummary  `json:"execution_summary"`
}

// InlineSummary is the predecessor's execution_summary: node visits, tool calls
// made, the run's variables, and the conditional results (the routing choices,
// which chatter records as node_finished details in the execution log, not here:
// always empty).
type InlineSummary struct {
	NodesExecuted      int            `json:"nodes_executed"`
	ToolCalls          int            `json:"tool_calls"`
	Variables          map[string]any `json:"variables"`
	ConditionalResults map[string]any `json:"conditional_results"`
}
