// Package wire holds the predecessor's response shapes that more than one package
// answers with — a message, a conversation, a workflow execution — each built from
// the stored record by one function, so the executor's live answer (ChatResponse,
// WorkflowExecutionResponse) and the stored reads agree field for field. Field names,
// types and nullability are the old contract's (predecessor-openapi.json); chatter's
// extra data rides along as additional properties where it does not collide.
//
// Values chatter does not keep per conversation (status, context window, retrieval
// limit, ...) are the service defaults a run of that conversation gets, never
// invented per record; nullable fields chatter has no value for are null.
package wire

import (
	"math"
	"time"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// ConversationActive is the only conversation status chatter has: a deleted
// conversation is gone, and chatter does not archive.
const ConversationActive = "active"

// Message is the predecessor's MessageResponse: one stored message.
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
	ResponseTimeMS   *int64    `json:"response_time_ms"`
	Cost             *float64  `json:"cost"`
	FinishReason     *string   `json:"finish_reason"`
	Rating           *float64  `json:"rating"`
	RatingCount      int       `json:"rating_count"`
	CreatedAt        time.Time `json:"created_at"`

	// chatter's: complete or incomplete (a failed or cancelled run's partial reply),
	// the run that wrote it, its tool calls and whether its cost is known.
	Status      string                 `json:"status"`
	ExecutionID string                 `json:"execution_id,omitempty"`
	ToolCalls   []store.ToolCallRecord `json:"tool_calls,omitempty"`
	CostKnown   bool                   `json:"cost_known"`
}

// NewMessage converts a stored message. Token counts, model, provider, timing and
// cost are set on the assistant's messages (the ones a model call produced) and
// null on the others.
func NewMessage(m *store.Message) Message {
	out := Message{Role: string(m.Role), Content: m.Content, ID: m.ID, ConversationID: m.ConversationID,
		SequenceNumber: m.Seq, CreatedAt: m.CreatedAt, Status: m.Status, ExecutionID: m.ExecutionID,
		ToolCalls: m.ToolCalls, CostKnown: m.CostKnown}
	if m.Provider != "" || m.Model != "" || m.InputTokens+m.OutputTokens > 0 {
		in, outTok, total := m.InputTokens, m.OutputTokens, m.InputTokens+m.OutputTokens
		out.PromptTokens, out.CompletionTokens, out.TotalTokens = &in, &outTok, &total
		out.ModelUsed, out.ProviderUsed = nonEmpty(m.Model), nonEmpty(m.Provider)
		rt, cost := Millis(m.ResponseTimeMS), m.Cost
		out.ResponseTimeMS, out.Cost = &rt, &cost
	}
	return out
}

// Conversation is the predecessor's ConversationResponse.
type Conversation struct {
	ID                      string         `json:"id"`
	Title                   string         `json:"title"`
	UserID                  string         `json:"user_id"`
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

	// chatter's: the conversation's running summary.
	Summary string `json:"summary,omitempty"`
}

// NewConversation converts a stored conversation. Settings chatter keeps per run,
// not per conversation, are the defaults a run of it gets: memory on with the
// default window, retrieval off unless a request asks, the default top_k.
func NewConversation(c *store.Conversation) Conversation {
	out := Conversation{ID: c.ID, Title: c.Title, UserID: c.UserID, Status: ConversationActive,
		MessageCount: c.MessageCount, TotalTokens: c.TotalTokens, TotalCost: c.TotalCost,
		ContextWindow: workflow.DefaultMemoryWindow, MemoryEnabled: true, RetrievalLimit: workflow.DefaultTopK,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Summary: c.Summary}
	if !c.LastMessageAt.IsZero() {
		t := c.LastMessageAt
		out.LastMessageAt = &t
	}
	return out
}

// WorkflowExecution is the predecessor's WorkflowExecutionResponse: the old names
// of an execution's id, timing, output, error and totals.
type WorkflowExecution struct {
	ID              string          `json:"id"`
	DefinitionID    string          `json:"definition_id"`
	OwnerID         string          `json:"owner_id"`
	Status          string          `json:"status"`
	StartedAt       *time.Time      `json:"started_at"`
	CompletedAt     *time.Time      `json:"completed_at"`
	ExecutionTimeMS *int64          `json:"execution_time_ms"`
	InputData       map[string]any  `json:"input_data"`
	OutputData      any             `json:"output_data"`
	ErrorMessage    *string         `json:"error_message"`
	TokensUsed      int             `json:"tokens_used"`
	Cost            float64         `json:"cost"`
	ExecutionLog    []store.NodeRun `json:"execution_log"`
	DebugInfo       map[string]any  `json:"debug_info"`
	CreatedAt       *time.Time      `json:"created_at"`
	UpdatedAt       *time.Time      `json:"updated_at"`
}

// RecordOutput is output_data of a stored execution: what the record keeps of the
// run's output (the reply, its message, the tool calls cut to
// store.MaxRecordedToolResult).
type RecordOutput struct {
	Response  string                 `json:"response"`
	MessageID string                 `json:"message_id,omitempty"`
	ToolCalls []store.ToolCallRecord `json:"tool_calls"`
}

// InputDataKey is the metadata key under which an execution keeps the input_data a
// request sent (without its message, which lives in the conversation).
const InputDataKey = "input_data"

// NewWorkflowExecution converts a stored execution. definition_id is the id of what
// ran — the definition, or the template for a template run — and empty for a
// dynamic or inline run, which has no stored source. completed_at and
// execution_time_ms are null while it runs; created_at is its start and updated_at
// its end (or start while running).
func NewWorkflowExecution(e *store.Execution) WorkflowExecution {
	started := e.StartedAt
	rec := RecordOutput{Response: e.Output, MessageID: e.MessageID, ToolCalls: e.ToolCallRecords}
	if rec.ToolCalls == nil {
		rec.ToolCalls = []store.ToolCallRecord{}
	}
	out := WorkflowExecution{ID: e.ID, DefinitionID: e.Source.ID, OwnerID: e.UserID, Status: e.Status,
		StartedAt: &started, CreatedAt: &started, UpdatedAt: &started, TokensUsed: e.Usage.Total(), Cost: e.Cost,
		ExecutionLog: e.Log, OutputData: rec}
	if out.ExecutionLog == nil {
		out.ExecutionLog = []store.NodeRun{}
	}
	if !e.FinishedAt.IsZero() {
		done := e.FinishedAt
		ms := Millis(e.DurationMS)
		out.CompletedAt, out.UpdatedAt, out.ExecutionTimeMS = &done, &done, &ms
	}
	if e.ErrorCode != "" {
		msg := e.ErrorMessage
		if msg == "" {
			msg = e.ErrorCode
		}
		out.ErrorMessage = &msg
	}
	if in, ok := e.Metadata[InputDataKey].(map[string]any); ok {
		out.InputData = in
	}
	return out
}

// Millis rounds a duration in (fractional) milliseconds to the whole milliseconds
// the old contract's integer fields carry.
func Millis(ms float64) int64 { return int64(math.Round(ms)) }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
