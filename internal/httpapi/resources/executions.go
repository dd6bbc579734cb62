package resources

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/fromstore"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// The execution routes show execution records in the predecessor's shapes (see
// package wire for the choices): chatter's GET /executions and the old GET
// /workflows/executions are one handler, as are chatter's GET /executions/{id} and
// the old GET /workflows/definitions/{id}/executions/{execution_id} (which also
// checks the execution ran that definition), so twins never answer differently.
//
//   - Lists take limit (default 20, at most 100 a page; the answer's limit says
//     what was applied) and offset (at most 10,000; past it follow next_cursor),
//     and chatter's status, source, definition and cursor; total_count counts up
//     to 10,000. The list of one definition's executions is a bare JSON array (the
//     old shape), all of them up to 100 a page, with X-Total-Count and a Link
//     rel="next".
//   - .../logs lists the run's start, each node visit and its end, as the old
//     WorkflowExecutionLogEntry; log_level keeps the entries of that level (debug,
//     info, warning or warn, error, critical; chatter writes info, warning and
//     error), limit (default 1000, 0 for none) keeps the first ones.

// executionLimit is the old default page size of GET /workflows/executions.
const executionLimit = 20

// ExecutionList is the answer of GET /workflows/executions (an open object in the
// old contract) and of chatter's GET /executions.
type ExecutionList struct {
	Executions []wire.Execution `json:"executions"`
	TotalCount int              `json:"total_count"`
	Limit      int              `json:"limit"`
	Offset     int              `json:"offset"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

var (
	execStatuses = store.ExecStatuses
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
	return httpcore.FieldErr(errcode.InvalidInput, field, field+" must be one of "+strings.Join(allowed, ", "))
}

func fromExecutions(es []store.Execution) []wire.Execution {
	out := make([]wire.Execution, len(es))
	for i := range es {
		out[i] = fromstore.Execution(&es[i])
	}
	return out
}

// ListExecutions lists the caller's executions, newest first, filtered by
// ?status, ?source (the source kind) and ?definition (a definition id).
func ListExecutions(s Executions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := offsetPage(r, executionLimit, "status", "source", "definition")
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
		if f.DefinitionID != "" && !store.ValidID(f.DefinitionID) {
			return httpcore.FieldErr(errcode.InvalidInput, "definition", "definition is not a valid id")
		}
		pg, err := s.ListExecutions(r.Context(), uid, f, p)
		if err != nil {
			return listErr(err, p)
		}
		total, err := s.CountExecutions(r.Context(), uid, f)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, ExecutionList{Executions: fromExecutions(pg.Items), TotalCount: total,
			Limit: p.Size(), Offset: p.Offset, NextCursor: pg.Next})
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
		httpcore.WriteJSON(w, r, http.StatusOK, fromstore.ExecutionDetail(e))
		return nil
	})
}

// CancelExecution asks a running execution to stop (store.RequestCancel): 202 with
// the execution, cancel_requested set. The instance running it notices within a
// second, stops the model call, stores the partial reply incomplete and ends the
// run cancelled; execution_cancelled names who asked. An execution that has ended
// is a 409 conflict, another user's a 404. A run waiting for a person (a human
// node) is held by no instance: the request also makes it overdue at once, so the
// next sweep ends it cancelled with its execution_cancelled (the sweeper's path:
// executor.Sweeper, once a minute deployed), and it can no longer be resumed.
func CancelExecution(s Executions) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		e, err := s.UpdateExecution(r.Context(), uid, id, func(x *store.Execution) error {
			if x.Status == store.ExecWaiting && !x.CancelRequested {
				x.Deadline = time.Now()
			}
			return store.RequestCancel(x, uid)
		})
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusAccepted, fromstore.Execution(e))
		return nil
	})
}

// ExecutionEvents lists an execution's event log in seq order.
func ExecutionEvents(s Executions) http.Handler {
	return handleList(func(ctx context.Context, uid, id string, p store.PageRequest) (store.Page[store.ExecutionEvent], error) {
		return s.ListEvents(ctx, uid, id, p) // not a method value: s may be nil until a request comes
	}, httpapi.WritePage[store.ExecutionEvent])
}

// DefinitionExecutions lists the caller's executions of a definition they can
// read, newest first, as a bare array (see the notes above).
func DefinitionExecutions(defs Definitions, execs Executions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		p, err := offsetPage(r, store.MaxPageSize)
		if err != nil {
			return err
		}
		if _, err := defs.GetDefinition(r.Context(), uid, id, 0); err != nil {
			return err
		}
		f := store.ExecutionFilter{DefinitionID: id}
		pg, err := execs.ListExecutions(r.Context(), uid, f, p)
		if err != nil {
			return listErr(err, p)
		}
		total, err := execs.CountExecutions(r.Context(), uid, f)
		if err != nil {
			return err
		}
		setPageHeaders(w, r, total, p, pg.Next)
		httpcore.WriteJSON(w, r, http.StatusOK, fromExecutions(pg.Items))
		return nil
	})
}

// definitionExecution reads the {execution_id} of the caller's that ran definition
// {id}; another's, or one of another definition, is not found.
func definitionExecution(s Executions, r *http.Request, uid string) (*store.Execution, error) {
	def, err := pathID(r)
	if err != nil {
		return nil, err
	}
	id, err := pathParam(r, "execution_id")
	if err != nil {
		return nil, err
	}
	e, err := s.GetExecution(r.Context(), uid, id)
	if err != nil {
		return nil, err
	}
	if e.Source.Kind != "definition" || e.Source.ID != def {
		return nil, store.NotFound("execution", id)
	}
	return e, nil
}

// DefinitionExecution returns one execution of a definition with its node log
// (the old DetailedWorkflowExecutionResponse).
func DefinitionExecution(s Executions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		e, err := definitionExecution(s, r, uid)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, fromstore.ExecutionDetail(e))
		return nil
	})
}

// logLevels are the levels ?log_level may name ("warn" is warning).
var logLevels = []string{"debug", "info", "warning", "warn", "error", "critical"}

// DefinitionExecutionLogs lists the log entries of one execution of a definition
// (see the notes above).
func DefinitionExecutionLogs(s Executions) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r, "log_level", "limit"); err != nil {
			return err
		}
		q := r.URL.Query()
		level := strings.ToLower(q.Get("log_level"))
		if err := oneOf("log_level", level, logLevels); err != nil {
			return err
		}
		if level == "warn" {
			level = wire.LevelWarning
		}
		limit, err := intParam(q, "limit", 1000, 0, -1)
		if err != nil {
			return err
		}
		e, err := definitionExecution(s, r, uid)
		if err != nil {
			return err
		}
		out := []wire.LogEntry{}
		for _, l := range fromstore.LogEntries(e) {
			if len(out) < limit && (level == "" || l.Level == level) {
				out = append(out, l)
			}
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}
