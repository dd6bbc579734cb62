package executor

import (
	"time"

	"github.com/chatterhq/chatter/internal/wire/fromstore"

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
	// FinishReason is why the last model call of the run stopped (llm.FinishStop,
	// FinishLength, FinishToolCalls, ...); "" when no model answered.
	FinishReason string

	// AssistantMessage is the reply as stored (nil when none was); Conversation is
	// the conversation after the turn; Record is the execution record as finished.
	// Each is nil when the run ended before that write.
	AssistantMessage *store.Message
	Conversation     *store.Conversation
	Record           *store.Execution
	// Waiting: the run stopped at a human node (Status waiting) and waits for this.
	Waiting *wire.Waiting
}

// DurationMS is the run's wall time in milliseconds.
func (r *Result) DurationMS() float64 { return ms(r.FinishedAt.Sub(r.StartedAt)) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *Result) usageBody() *wire.Usage { return fromstore.Usage(r.Usage, r.Cost.USD, r.Cost.Known) }

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
		Waiting: r.Waiting,
	}
	if r.AssistantMessage != nil {
		m := fromstore.Message(r.AssistantMessage)
		out.Message = &m
	}
	if r.Conversation != nil {
		c := fromstore.Conversation(r.Conversation)
		out.Conversation = &c
	}
	return out
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

// WorkflowExecutionResponse converts the result to the answer of a definition or
// template execution: the execution as every execution route shows it
// (wire.Execution), with the run's full output as output_data, its node log as
// execution_log, the input_data it was sent, and debug_info when the request asked
// for debug_mode (mode, provider, model, steps, variables and the node errors the
// run continued past).
func (r *Result) WorkflowExecutionResponse(debug bool) *wire.Execution {
	rec := r.record()
	w := fromstore.Execution(rec)
	out := r.output()
	w.OutputData, w.ExecutionLog = out, nonNil(rec.Log)
	if in, ok := rec.Metadata[store.MetadataInputData].(map[string]any); ok {
		w.InputData = in
	}
	if debug {
		w.DebugInfo = map[string]any{"mode": r.Mode, "provider": r.Provider, "model": r.Model, "steps": r.Steps,
			"variables": out.Variables, "errors": nonNil(r.Errors)}
	}
	return &w
}

// InlineExecutionResponse converts the result to the inline execution answer.
func (r *Result) InlineExecutionResponse(debug bool) *wire.InlineExecution {
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
	return &wire.InlineExecution{Execution: w, Response: r.Response, Metadata: meta,
		ExecutionSummary: wire.InlineSummary{NodesExecuted: len(r.Log), ToolCalls: calls,
			Variables: w.OutputData.Variables, ConditionalResults: map[string]any{}}}
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

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
