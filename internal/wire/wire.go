// Package wire holds the answer shapes of the predecessor's contract that chatter
// builds from stored records — conversations, messages and execution records —
// with one conversion each, so every route that shows one (the old paths, chatter's
// own routes, a chat answer's message and conversation objects, an execution
// route's answer) shows it alike. chatter's richer data rides along as extra
// properties where it does not collide with an old field; where it would, the old
// shape wins.
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
//     dynamic or inline run (source says what ran); output_data is chatter's output
//     object (response, message_id, tool_calls, sources, variables).
package wire

import (
	"math"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// ConversationActive is a conversation's status: chatter has no other (a deleted
// conversation is gone).
const ConversationActive = "active"

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
	Seq         int                    `json:"seq"`
	Status      string                 `json:"status"`
	ExecutionID string                 `json:"execution_id,omitempty"`
	ToolCalls   []store.ToolCallRecord `json:"tool_calls,omitempty"`
	CostKnown   bool                   `json:"cost_known"`
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// millis rounds a duration in milliseconds to the old contract's integer.
func millis(ms float64) int { return int(math.Round(ms)) }

// FromConversation converts a stored conversation.
func FromConversation(c *store.Conversation) Conversation {
	out := Conversation{ID: c.ID, UserID: c.UserID, Title: c.Title, Status: ConversationActive,
		MessageCount: c.MessageCount, TotalTokens: c.TotalTokens, TotalCost: c.TotalCost,
		ContextWindow: workflow.DefaultMemoryWindow, MemoryEnabled: true, RetrievalLimit: workflow.DefaultTopK,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version, Summary: c.Summary}
	if c.MessageCount > 0 {
		t := c.LastMessageAt
		out.LastMessageAt = &t
	}
	return out
}

// FromMessage converts a stored message.
func FromMessage(m *store.Message) Message {
	out := Message{Role: string(m.Role), Content: m.Content, ID: m.ID, ConversationID: m.ConversationID,
		SequenceNumber: m.Seq, CreatedAt: m.CreatedAt, Seq: m.Seq, Status: m.Status, ExecutionID: m.ExecutionID,
		ToolCalls: m.ToolCalls, CostKnown: m.CostKnown}
	if m.Role == llm.RoleAssistant {
		in, outT, total := m.InputTokens, m.OutputTokens, m.InputTokens+m.OutputTokens
		rt := millis(m.ResponseTimeMS)
		out.PromptTokens, out.CompletionTokens, out.TotalTokens, out.ResponseTimeMS = &in, &outT, &total, &rt
		out.ModelUsed, out.ProviderUsed = nonEmpty(m.Model), nonEmpty(m.Provider)
		if m.CostKnown {
			cost := m.Cost
			out.Cost = &cost
		}
	}
	return out
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
	Response  string                 `json:"response"`
	MessageID string                 `json:"message_id,omitempty"`
	ToolCalls []store.ToolCallRecord `json:"tool_calls"`
	Sources   []retrieval.Passage    `json:"sources"`
	Variables map[string]any         `json:"variables"`
	Errors    []string               `json:"errors,omitempty"`
}

// Execution is the predecessor's WorkflowExecutionResponse of an execution record.
type Execution struct {
	ID              string          `json:"id"`
	DefinitionID    string          `json:"definition_id"`
	OwnerID         string          `json:"owner_id"`
	Status          string          `json:"status"`
	InputData       map[string]any  `json:"input_data"`
	StartedAt       *time.Time      `json:"started_at"`
	CompletedAt     *time.Time      `json:"completed_at"`
	ExecutionTimeMS *int            `json:"execution_time_ms"`
	OutputData      *Output         `json:"output_data"`
	ErrorMessage    *string         `json:"error_message"`
	TokensUsed      int             `json:"tokens_used"`
	Cost            float64         `json:"cost"`
	ExecutionLog    []store.NodeRun `json:"execution_log"`
	DebugInfo       map[string]any  `json:"debug_info"`
	CreatedAt       *time.Time      `json:"created_at"`
	UpdatedAt       *time.Time      `json:"updated_at"`
	// chatter's additions: execution_id is id, duration_ms the exact
	// execution_time_ms; error carries the stable code.
	ExecutionID    string          `json:"execution_id"`
	ConversationID string          `json:"conversation_id"`
	Source         store.SourceRef `json:"source"`
	Usage          *Usage          `json:"usage"`
	Steps          int             `json:"steps"`
	ToolCalls      int             `json:"tool_calls"`
	DurationMS     float64         `json:"duration_ms"`
	Error          *ErrorBody      `json:"error,omitempty"`
	Mode           string          `json:"mode"`
	Provider       string          `json:"provider,omitempty"`
	Model          string          `json:"model,omitempty"`
	// Redacted: the conversation was deleted; the content is gone (see
	// store.Redact).
	Redacted bool `json:"redacted,omitempty"`
}

// FromExecution converts an execution record to its list view (no node log).
func FromExecution(e *store.Execution) Execution {
	started := e.StartedAt
	out := Execution{ID: e.ID, OwnerID: e.UserID, Status: e.Status, StartedAt: &started, CreatedAt: &started,
		UpdatedAt: &started,
		OutputData: &Output{Response: e.Output, MessageID: e.MessageID, ToolCalls: e.ToolCallRecords,
			Sources: []retrieval.Passage{}, Variables: map[string]any{}},
		TokensUsed: e.Usage.Total(), Cost: e.Cost, ExecutionID: e.ID, ConversationID: e.ConversationID,
		Source: e.Source, Usage: &Usage{InputTokens: e.Usage.InputTokens, OutputTokens: e.Usage.OutputTokens,
			TotalTokens: e.Usage.Total(), CacheReadTokens: e.Usage.CacheReadTokens,
			CacheWriteTokens: e.Usage.CacheWriteTokens, Cost: e.Cost, CostKnown: e.CostKnown},
		Steps: e.Steps, ToolCalls: e.ToolCalls, DurationMS: e.DurationMS, Mode: e.Mode, Provider: e.Provider,
		Model: e.Model, Redacted: e.Redacted}
	if e.Source.Kind == "definition" {
		out.DefinitionID = e.Source.ID
	}
	if out.OutputData.ToolCalls == nil {
		out.OutputData.ToolCalls = []store.ToolCallRecord{}
	}
	if !e.FinishedAt.IsZero() {
		done := e.FinishedAt
		ms := millis(e.DurationMS)
		out.CompletedAt, out.UpdatedAt, out.ExecutionTimeMS = &done, &done, &ms
	}
	if e.ErrorCode != "" {
		out.Error = &ErrorBody{Code: e.ErrorCode, Message: e.ErrorMessage, NodeID: e.ErrorNodeID}
		msg := e.ErrorCode
		if e.ErrorMessage != "" {
			msg += ": " + e.ErrorMessage
		}
		out.ErrorMessage = &msg
	}
	return out
}
