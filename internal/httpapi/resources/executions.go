package resources

import (
	"context"
	"net/http"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
)

// The execution views below have the JSON shape of the executor's
// WorkflowExecutionResponse and DetailedResponse (a test in this package checks
// the field names match), built from the stored record instead of a live Result,
// because this package must not import the executor. A stored record keeps
// counts, not the tool calls, sources and variables themselves: those lists are
// empty here (the conversation's messages hold the tool calls).

// UsageBody is token usage (executor.UsageBody's shape).
type UsageBody struct {
	InputTokens      int     `json:"input_tokens"`
	OutputTokens     int     `json:"output_tokens"`
	TotalTokens      int     `json:"total_tokens"`
	CacheReadTokens  int     `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int     `json:"cache_write_tokens,omitempty"`
	Cost             float64 `json:"cost"`
	CostKnown        bool    `json:"cost_known"`
}

// ErrorBody is a run's error (executor.ErrorBody's shape).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	NodeID  string `json:"node_id,omitempty"`
}

// ExecutionOutput is what a run produced (executor.ExecutionOutput's shape).
type ExecutionOutput struct {
	Response  string                 `json:"response"`
	MessageID string                 `json:"message_id,omitempty"`
	ToolCalls []store.ToolCallRecord `json:"tool_calls"`
	Sources   []Passage              `json:"sources"`
	Variables map[string]any         `json:"variables"`
	Errors    []string               `json:"errors,omitempty"`
}

// Passage is a retrieved passage (retrieval.Passage's shape).
type Passage struct {
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title,omitempty"`
	Text       string  `json:"text"`
	Score      float64 `json:"score"`
}

// ExecutionSummary is one execution in a list (executor.WorkflowExecutionResponse's
// shape plus mode, provider and model). completed_at is absent while running.
type ExecutionSummary struct {
	ExecutionID    string          `json:"execution_id"`
	Status         string          `json:"status"`
	ConversationID string          `json:"conversation_id"`
	Source         store.SourceRef `json:"source"`
	Output         ExecutionOutput `json:"output"`
	Usage          *UsageBody      `json:"usage"`
	Steps          int             `json:"steps"`
	StartedAt      time.Time       `json:"started_at"`
	CompletedAt    time.Time       `json:"completed_at,omitzero"`
	DurationMS     float64         `json:"duration_ms"`
	Error          *ErrorBody      `json:"error,omitempty"`
	Mode           string          `json:"mode"`
	Provider       string          `json:"provider,omitempty"`
	Model          string          `json:"model,omitempty"`
	// Redacted: the conversation was deleted; the content is gone (see store.Redact).
	Redacted bool `json:"redacted,omitempty"`
}

// ExecutionDetail is one execution with its node log (executor.DetailedResponse's
// shape).
type ExecutionDetail struct {
	ExecutionSummary
	Log []store.NodeRun `json:"log"`
}

func executionSummary(e *store.Execution) ExecutionSummary {
	s := ExecutionSummary{
		ExecutionID: e.ID, Status: e.Status, ConversationID: e.ConversationID, Source: e.Source,
		Output: ExecutionOutput{Response: e.Output, MessageID: e.MessageID, ToolCalls: e.ToolCallRecords,
			Sources: []Passage{}, Variables: map[string]any{}},
		Usage: &UsageBody{InputTokens: e.Usage.InputTokens, OutputTokens: e.Usage.OutputTokens,
			TotalTokens: e.Usage.Total(), CacheReadTokens: e.Usage.CacheReadTokens,
			CacheWriteTokens: e.Usage.CacheWriteTokens, Cost: e.Cost, CostKnown: e.CostKnown},
		Steps: e.Steps, StartedAt: e.StartedAt, CompletedAt: e.FinishedAt, DurationMS: e.DurationMS,
		Mode: e.Mode, Provider: e.Provider, Model: e.Model, Redacted: e.Redacted,
	}
	if s.Output.ToolCalls == nil {
		s.Output.ToolCalls = []store.ToolCallRecord{}
	}
	if e.ErrorCode != "" {
		s.Error = &ErrorBody{Code: e.ErrorCode, Message: e.ErrorMessage, NodeID: e.ErrorNodeID}
	}
	return s
}

func executionDetail(e *store.Execution) ExecutionDetail {
	log := e.Log
	if log == nil {
		log = []store.NodeRun{}
	}
	return ExecutionDetail{ExecutionSummary: executionSummary(e), Log: log}
}

func writeExecutions(w http.ResponseWriter, r *http.Request, pg store.Page[store.Execution]) {
	out := store.Page[ExecutionSummary]{Next: pg.Next, Items: make([]ExecutionSummary, len(pg.Items))}
	for i := range pg.Items {
		out.Items[i] = executionSummary(&pg.Items[i])
	}
	httpapi.WritePage(w, r, out)
}

var (
	execStatuses = []string{store.ExecRunning, store.ExecCompleted, store.ExecFailed, store.ExecCancelled}
	sourceKinds  = []string{"template", "definition", "dynamic", "inline"}
)

func oneOf(field, v string, allowed []string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	msg := field + " must be one of"
	for i, a := range allowed {
		if i > 0 {
			msg += ","
		}
		msg += " " + a
	}
	return httpapi.FieldErr(httpapi.CodeInvalid, field, msg)
}

// ListExecutions lists the caller's executions, newest first, filtered by
// ?status, ?source (the source kind) and ?definition (a definition id).
func ListExecutions(s Executions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := page(r, "status", "source", "definition")
		if err != nil {
			return err
		}
		q := r.URL.Query()
		f := store.ExecutionFilter{Status: q.Get("status"), SourceKind: q.Get("source"), DefinitionID: q.Get("definition")}
		if err := oneOf("status", f.Status, execStatuses); err != nil {
			return err
		}
		if err := oneOf("source", f.SourceKind, sourceKinds); err != nil {
			return err
		}
		if f.DefinitionID != "" && !validID(f.DefinitionID) {
			return httpapi.FieldErr(httpapi.CodeInvalid, "definition", "definition is not a valid id")
		}
		pg, err := s.ListExecutions(r.Context(), uid, f, p)
		if err != nil {
			return listErr(err, p)
		}
		writeExecutions(w, r, pg)
		return nil
	})
}

// GetExecution returns one of the caller's executions with its node log.
func GetExecution(s Executions) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		e, err := s.GetExecution(r.Context(), uid, id)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, executionDetail(e))
		return nil
	})
}

// ExecutionEvents lists an execution's event log in seq order.
func ExecutionEvents(s Executions) http.Handler {
	return handleList(func(ctx context.Context, uid, id string, p store.PageRequest) (store.Page[store.ExecutionEvent], error) {
		return s.ListEvents(ctx, uid, id, p) // not a method value: s may be nil until a request comes
	}, httpapi.WritePage[store.ExecutionEvent])
}
