package executor

import (
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
)

// Result is everything a run produced. Every response shape is one conversion of it.
type Result struct {
	ExecutionID        string
	ConversationID     string
	UserMessageID      string
	AssistantMessageID string
	Source             store.SourceRef
	Mode               Mode
	Status             string // completed | failed | cancelled
	Response           string
	ToolCalls          []store.ToolCallRecord
	Sources            []retrieval.Passage
	Usage              llm.Usage
	Cost               llm.Cost
	Provider           string
	Model              string
	Steps              int
	Log                []store.NodeRun
	Variables          map[string]any
	Errors             []string // node errors a handler let the run continue past
	StartedAt          time.Time
	FinishedAt         time.Time
	Error              *ErrorBody
}

// DurationMS is the run's wall time in milliseconds.
func (r *Result) DurationMS() float64 { return ms(r.FinishedAt.Sub(r.StartedAt)) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// UsageBody is token usage as clients see it.
type UsageBody struct {
	InputTokens      int     `json:"input_tokens"`
	OutputTokens     int     `json:"output_tokens"`
	TotalTokens      int     `json:"total_tokens"`
	CacheReadTokens  int     `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int     `json:"cache_write_tokens,omitempty"`
	Cost             float64 `json:"cost"`
	CostKnown        bool    `json:"cost_known"`
}

func (r *Result) usageBody() *UsageBody {
	return &UsageBody{
		InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens, TotalTokens: r.Usage.Total(),
		CacheReadTokens: r.Usage.CacheReadTokens, CacheWriteTokens: r.Usage.CacheWriteTokens,
		Cost: r.Cost.USD, CostKnown: r.Cost.Known,
	}
}

// ChatResponse is the standard chat answer (predecessor field names kept).
type ChatResponse struct {
	Response       string                 `json:"response"`
	ConversationID string                 `json:"conversation_id"`
	MessageID      string                 `json:"message_id,omitempty"`
	ExecutionID    string                 `json:"execution_id"`
	Status         string                 `json:"status"`
	WorkflowType   string                 `json:"workflow_type"`
	Provider       string                 `json:"provider,omitempty"`
	Model          string                 `json:"model,omitempty"`
	TokensUsed     int                    `json:"tokens_used"`
	Usage          *UsageBody             `json:"usage"`
	Cost           float64                `json:"cost"`
	CostKnown      bool                   `json:"cost_known"`
	ToolCalls      []store.ToolCallRecord `json:"tool_calls"`
	Sources        []retrieval.Passage    `json:"sources"`
	ResponseTimeMS float64                `json:"response_time_ms"`
	Error          *ErrorBody             `json:"error,omitempty"`
}

// ChatResponse converts the result to the chat answer.
func (r *Result) ChatResponse() *ChatResponse {
	wt := r.Source.Kind
	if r.Source.Name != "" {
		wt = r.Source.Name
	}
	return &ChatResponse{
		Response: r.Response, ConversationID: r.ConversationID, MessageID: r.AssistantMessageID,
		ExecutionID: r.ExecutionID, Status: r.Status, WorkflowType: wt, Provider: r.Provider, Model: r.Model,
		TokensUsed: r.Usage.Total(), Usage: r.usageBody(), Cost: r.Cost.USD, CostKnown: r.Cost.Known,
		ToolCalls: nonNil(r.ToolCalls), Sources: nonNil(r.Sources), ResponseTimeMS: r.DurationMS(), Error: r.Error,
	}
}

// WorkflowExecutionResponse is the answer of a definition or template execution.
type WorkflowExecutionResponse struct {
	ExecutionID    string          `json:"execution_id"`
	Status         string          `json:"status"`
	ConversationID string          `json:"conversation_id"`
	Source         store.SourceRef `json:"source"`
	Output         ExecutionOutput `json:"output"`
	Usage          *UsageBody      `json:"usage"`
	Steps          int             `json:"steps"`
	StartedAt      time.Time       `json:"started_at"`
	CompletedAt    time.Time       `json:"completed_at"`
	DurationMS     float64         `json:"duration_ms"`
	Error          *ErrorBody      `json:"error,omitempty"`
}

// ExecutionOutput is what a workflow execution produced.
type ExecutionOutput struct {
	Response  string                 `json:"response"`
	MessageID string                 `json:"message_id,omitempty"`
	ToolCalls []store.ToolCallRecord `json:"tool_calls"`
	Sources   []retrieval.Passage    `json:"sources"`
	Variables map[string]any         `json:"variables"`
	Errors    []string               `json:"errors,omitempty"`
}

// WorkflowExecutionResponse converts the result to the workflow execution answer.
func (r *Result) WorkflowExecutionResponse() *WorkflowExecutionResponse {
	vars := r.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	return &WorkflowExecutionResponse{
		ExecutionID: r.ExecutionID, Status: r.Status, ConversationID: r.ConversationID, Source: r.Source,
		Output: ExecutionOutput{Response: r.Response, MessageID: r.AssistantMessageID, ToolCalls: nonNil(r.ToolCalls),
			Sources: nonNil(r.Sources), Variables: vars, Errors: r.Errors},
		Usage: r.usageBody(), Steps: r.Steps, StartedAt: r.StartedAt, CompletedAt: r.FinishedAt,
		DurationMS: r.DurationMS(), Error: r.Error,
	}
}

// DetailedResponse is a workflow execution with its node-by-node log.
type DetailedResponse struct {
	WorkflowExecutionResponse
	Mode     Mode            `json:"mode"`
	Provider string          `json:"provider,omitempty"`
	Model    string          `json:"model,omitempty"`
	Log      []store.NodeRun `json:"log"`
}

// DetailedResponse converts the result to the detailed execution view.
func (r *Result) DetailedResponse() *DetailedResponse {
	return &DetailedResponse{WorkflowExecutionResponse: *r.WorkflowExecutionResponse(), Mode: r.Mode,
		Provider: r.Provider, Model: r.Model, Log: nonNil(r.Log)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
