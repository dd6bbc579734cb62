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
	Error              *wire.ErrorBody

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

func (r *Result) usageBody() *wire.Usage {
	return &wire.Usage{
		InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens, TotalTokens: r.Usage.Total(),
		CacheReadTokens: r.Usage.CacheReadTokens, CacheWriteTokens: r.Usage.CacheWriteTokens,
		Cost: r.Cost.USD, CostKnown: r.Cost.Known,
	}
}

// ChatResponse converts the result to the chat answer.
func (r *Result) ChatResponse() *wire.ChatResponse {
	wt := r.Source.Kind
	if r.Source.Name != "" {
		wt = r.Source.Name
	}
	out := &wire.ChatResponse{
		Response: r.Response, ConversationID: r.ConversationID, MessageID: r.AssistantMessageID,
		ExecutionID: r.ExecutionID, Status: r.Status, WorkflowType: wt, Provider: r.Provider, Model: r.Model,
		TokensUsed: r.Usage.Total(), Usage: r.usageBody(), Cost: r.Cost.USD, CostKnown: r.Cost.Known,
		ToolCalls: nonNil(r.ToolCalls), Sources: nonNil(r.Sources), ResponseTimeMS: r.DurationMS(), Error: r.Error,
	}
	if r.AssistantMessage != nil {
		m := wire.FromMessage(r.AssistantMessage)
		out.Message = &m
	}
	if r.Conversation != nil {
		c := wire.FromConversation(r.Conversation)
		out.Conversation = &c
	}
	return out
}

// WorkflowExecutionResponse is the answer of a definition or template execution:
// the execution as every execution route shows it (wire.Execution: the
// predecessor's WorkflowExecutionResponse with chatter's additions), with the
// run's full output as output_data — and as output, chatter's earlier name of the
// same object — its node log as execution_log, the input_data it was sent, and
// debug_info when the request asked for debug_mode.
type WorkflowExecutionResponse struct {
	wire.Execution
	Output *ExecutionOutput `json:"output"`
}

// ExecutionOutput is what a workflow execution produced (wire.Output).
type ExecutionOutput = wire.Output

func (r *Result) output() *ExecutionOutput {
	vars := r.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	return &ExecutionOutput{Response: r.Response, MessageID: r.AssistantMessageID, ToolCalls: nonNil(r.ToolCalls),
		Sources: nonNil(r.Sources), Variables: vars, Errors: r.Errors}
}

// WorkflowExecutionResponse converts the result to the workflow execution answer;
// debug (the request's debug_mode) adds debug_info: mode, provider, model, steps,
// variables and the node errors the run continued past.
func (r *Result) WorkflowExecutionResponse(debug bool) *WorkflowExecutionResponse {
	rec := r.record()
	w := wire.FromExecution(rec)
	out := r.output()
	w.OutputData, w.ExecutionLog = out, nonNil(rec.Log)
	if in, ok := rec.Metadata[store.MetadataInputData].(map[string]any); ok {
		w.InputData = in
	}
	if debug {
		w.DebugInfo = map[string]any{"mode": r.Mode, "provider": r.Provider, "model": r.Model, "steps": r.Steps,
			"variables": out.Variables, "errors": nonNil(r.Errors)}
	}
	return &WorkflowExecutionResponse{Execution: w, Output: out}
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
// execution view.
type DetailedResponse struct {
	ExecutionID    string           `json:"execution_id"`
	Status         string           `json:"status"`
	ConversationID string           `json:"conversation_id"`
	Source         store.SourceRef  `json:"source"`
	Output         *ExecutionOutput `json:"output"`
	Usage          *wire.Usage      `json:"usage"`
	Steps          int              `json:"steps"`
	StartedAt      time.Time        `json:"started_at"`
	CompletedAt    time.Time        `json:"completed_at"`
	DurationMS     float64          `json:"duration_ms"`
	Error          *wire.ErrorBody  `json:"error,omitempty"`
	Mode           Mode             `json:"mode"`
	Provider       string           `json:"provider,omitempty"`
	Model          string           `json:"model,omitempty"`
	Log            []store.NodeRun  `json:"log"`
}

// DetailedResponse converts the result to the detailed execution view.
func (r *Result) DetailedResponse() *DetailedResponse {
	return &DetailedResponse{ExecutionID: r.ExecutionID, Status: r.Status, ConversationID: r.ConversationID,
		Source: r.Source, Output: r.output(), Usage: r.usageBody(), Steps: r.Steps, StartedAt: r.StartedAt,
		CompletedAt: r.FinishedAt, DurationMS: r.DurationMS(), Error: r.Error, Mode: r.Mode, Provider: r.Provider,
		Model: r.Model, Log: nonNil(r.Log)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
