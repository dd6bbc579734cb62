package executor

import (
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// Result is everything a run produced. Every response shape is one conversion of it.
type Result struct {
	ExecutionID        string
	UserID             string
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

	// AssistantMessage is the reply as stored (nil when none was); Conversation is
	// the conversation after the turn; Record is the execution record as finished.
	// Each is nil when the run ended before that write.
	AssistantMessage *store.Message
	Conversation     *store.Conversation
	Record           *store.Execution
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

// ChatResponse is the standard chat answer: the predecessor's ChatResponse
// (conversation_id, the reply as message, the conversation after the turn) with
// chatter's reply text, execution, usage, cost, tool calls and sources beside it.
// message and conversation are absent only on a run that stored no reply.
type ChatResponse struct {
	ConversationID string             `json:"conversation_id"`
	Message        *wire.Message      `json:"message,omitempty"`
	Conversation   *wire.Conversation `json:"conversation,omitempty"`

	Response       string                 `json:"response"`
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
	out := &ChatResponse{
		Response: r.Response, ConversationID: r.ConversationID, MessageID: r.AssistantMessageID,
		ExecutionID: r.ExecutionID, Status: r.Status, WorkflowType: wt, Provider: r.Provider, Model: r.Model,
		TokensUsed: r.Usage.Total(), Usage: r.usageBody(), Cost: r.Cost.USD, CostKnown: r.Cost.Known,
		ToolCalls: nonNil(r.ToolCalls), Sources: nonNil(r.Sources), ResponseTimeMS: r.DurationMS(), Error: r.Error,
	}
	if r.AssistantMessage != nil {
		m := wire.NewMessage(r.AssistantMessage)
		out.Message = &m
	}
	if r.Conversation != nil {
		c := wire.NewConversation(r.Conversation)
		out.Conversation = &c
	}
	return out
}

// RunBody is chatter's account of a run that both execution views carry: its
// execution and conversation, what ran, what it produced, usage, steps, wall time
// and error.
type RunBody struct {
	ExecutionID    string          `json:"execution_id"`
	ConversationID string          `json:"conversation_id"`
	Source         store.SourceRef `json:"source"`
	Output         ExecutionOutput `json:"output"`
	Usage          *UsageBody      `json:"usage"`
	Steps          int             `json:"steps"`
	DurationMS     float64         `json:"duration_ms"`
	Error          *ErrorBody      `json:"error,omitempty"`
}

// WorkflowExecutionResponse is the answer of a definition or template execution:
// the predecessor's WorkflowExecutionResponse (id, definition_id, owner_id, status,
// times, output_data, error_message, tokens_used, cost, execution_log, debug_info)
// with chatter's RunBody beside it. output_data is the run's full output (the same
// object as output).
type WorkflowExecutionResponse struct {
	wire.WorkflowExecution
	RunBody
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

func (r *Result) runBody() RunBody {
	vars := r.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	return RunBody{ExecutionID: r.ExecutionID, ConversationID: r.ConversationID, Source: r.Source,
		Output: ExecutionOutput{Response: r.Response, MessageID: r.AssistantMessageID, ToolCalls: nonNil(r.ToolCalls),
			Sources: nonNil(r.Sources), Variables: vars, Errors: r.Errors},
		Usage: r.usageBody(), Steps: r.Steps, DurationMS: r.DurationMS(), Error: r.Error}
}

// WorkflowExecutionResponse converts the result to the workflow execution answer;
// debug (the request's debug_mode) adds debug_info: mode, provider, model, steps,
// variables and the node errors the run continued past.
func (r *Result) WorkflowExecutionResponse(debug bool) *WorkflowExecutionResponse {
	body := r.runBody()
	w := wire.NewWorkflowExecution(r.record())
	w.OutputData = body.Output
	if debug {
		w.DebugInfo = map[string]any{"mode": r.Mode, "provider": r.Provider, "model": r.Model, "steps": r.Steps,
			"variables": body.Output.Variables, "errors": nonNil(r.Errors)}
	}
	return &WorkflowExecutionResponse{WorkflowExecution: w, RunBody: body}
}

// InlineExecutionResponse is the answer of an inline graph's execution: a
// WorkflowExecutionResponse with the predecessor's custom execution fields beside
// it — response (the reply), metadata (the request's) and execution_summary.
type InlineExecutionResponse struct {
	*WorkflowExecutionResponse
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

// InlineExecutionResponse converts the result to the inline execution answer.
func (r *Result) InlineExecutionResponse(debug bool) *InlineExecutionResponse {
	w := r.WorkflowExecutionResponse(debug)
	meta := r.record().Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	calls := 0
	for _, tc := range r.ToolCalls {
		if tc.Skipped == "" {
			calls++
		}
	}
	return &InlineExecutionResponse{WorkflowExecutionResponse: w, Response: r.Response, Metadata: meta,
		ExecutionSummary: InlineSummary{NodesExecuted: len(r.Log), ToolCalls: calls, Variables: w.Output.Variables,
			ConditionalResults: map[string]any{}}}
}

// record is the execution record the run finished with; a Result the executor did
// not finish (built by hand) has only its ids and status.
func (r *Result) record() *store.Execution {
	if r.Record != nil {
		return r.Record
	}
	return &store.Execution{ID: r.ExecutionID, UserID: r.UserID, ConversationID: r.ConversationID, Source: r.Source,
		Status: r.Status, StartedAt: r.StartedAt}
}

// DetailedResponse is a run with its node-by-node log: chatter's detailed
// execution view (GET /api/v1/executions/{id} has its shape).
type DetailedResponse struct {
	RunBody
	Status      string          `json:"status"`
	StartedAt   time.Time       `json:"started_at"`
	CompletedAt time.Time       `json:"completed_at"`
	Mode        Mode            `json:"mode"`
	Provider    string          `json:"provider,omitempty"`
	Model       string          `json:"model,omitempty"`
	Log         []store.NodeRun `json:"log"`
}

// DetailedResponse converts the result to the detailed execution view.
func (r *Result) DetailedResponse() *DetailedResponse {
	return &DetailedResponse{RunBody: r.runBody(), Status: r.Status, StartedAt: r.StartedAt, CompletedAt: r.FinishedAt,
		Mode: r.Mode, Provider: r.Provider, Model: r.Model, Log: nonNil(r.Log)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
