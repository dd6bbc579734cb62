// Package record is the on-event-record subscriber: it keeps an execution's record
// and event log in the store from events that arrive at least once and in any
// order, and counts each finished execution once in its source's run statistics
// (numbers only, no content: see stats.go). The executor's fallback uses the same Apply when the bus is unreachable,
// so there is one way an event becomes stored state.
//
// The event log holds events WithoutContent (ids, codes, sizes, tokens, timings);
// conversation content is kept only on the execution record, which the store
// redacts for good when the conversation is deleted. So an event that arrives after
// the delete — EventBridge redelivers, late and out of order — stores nothing of
// what was said: its log entry has no content, and its update of the record cannot
// undo the redaction.
package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Repo is the storage Apply needs; store.Memory and the DynamoDB store provide it.
type Repo interface {
	// UpdateExecution applies fn to the stored execution under a condition and
	// retries on a lost race. An error from fn writes nothing and is returned.
	// Returns not_found if the execution does not exist, conflict if fn changes a
	// terminal status.
	UpdateExecution(ctx context.Context, userID, id string, fn func(*store.Execution) error) (*store.Execution, error)
	// AppendEvents adds events to an execution's log; an event stored before (same
	// id and seq) is stored once. Returns too_large for oversized data.
	AppendEvents(ctx context.Context, userID, execID string, evs []store.ExecutionEvent) error
	Counter
}

// errUnchanged stops an update that would write what is already stored.
var errUnchanged = errors.New("unchanged")

// Apply stores e: it joins the execution's event log (once, by id, in seq order),
// and a terminal event sets the execution's final status and totals and counts the
// execution, as it ended, in its source's run statistics (once per execution: see
// store.StatsKeys and Sample). Status only
// moves forward and the first terminal event wins, so duplicates and late arrivals
// change nothing. An event without a user (a request rejected before it had one)
// or of an execution that was never stored (one that failed preparation) leaves
// nothing to keep. Apply is ApplyBatch of one event.
func Apply(ctx context.Context, repo Repo, e events.Event) error {
	return ApplyBatch(ctx, repo, []events.Event{e})[0]
}

// Ends ends e's execution with the terminal event e, as Apply does, and reports
// whether e is what ended it: true only for the write that moved the record from
// running to e's status. Only then does e join the event log and the run
// statistics, so a caller that ends runs itself (the sweep of overdue runs) and
// loses to a run that finished meanwhile leaves no trace. ended can be true with an
// error (the log entry or the count failed; the record subscriber adds them when
// the event is delivered).
func Ends(ctx context.Context, repo Repo, e events.Event) (ended bool, err error) {
	if e.UserID == "" || !e.Terminal() {
		return false, fmt.Errorf("record: %s %s is not a terminal event of a user's execution", e.Type, e.ID)
	}
	ended, final, err := settleRecord(ctx, repo, e)
	if err != nil || !ended {
		return false, err
	}
	if err := appendEntry(ctx, repo, e); err != nil {
		return true, err
	}
	if final != nil {
		return true, count(ctx, repo, final)
	}
	return true, nil
}

func appendEntry(ctx context.Context, repo Repo, e events.Event) error {
	ev, err := logEntry(e)
	if err != nil {
		return err
	}
	return appendEntries(ctx, repo, e.UserID, e.ExecutionID, []store.ExecutionEvent{ev})
}

// appendEntries adds one execution's log entries in one AppendEvents.
func appendEntries(ctx context.Context, repo Repo, userID, execID string, evs []store.ExecutionEvent) error {
	if len(evs) == 0 {
		return nil
	}
	if err := repo.AppendEvents(ctx, userID, execID, evs); err != nil {
		return fmt.Errorf("record: appending %d events (seq %d..%d) of execution %s: %w", len(evs), evs[0].Seq,
			evs[len(evs)-1].Seq, execID, err)
	}
	return nil
}

// settleRecord sets the final state from a terminal event. ended: this write moved
// the record from running. final: the record as it ends (this event's totals, or
// the first terminal event's), to count in the run statistics; nil when there is
// nothing to count (no such execution, or a request refused before it ran).
func settleRecord(ctx context.Context, repo Repo, e events.Event) (ended bool, final *store.Execution, err error) {
	end, ok := e.EndData()
	if !ok {
		return false, nil, fmt.Errorf("record: %s %s of execution %s carries no totals", e.Type, e.ID, e.ExecutionID)
	}
	var last store.Execution
	_, err = repo.UpdateExecution(ctx, e.UserID, e.ExecutionID, func(x *store.Execution) error {
		before := *x
		ended = false // fn runs again after a lost race
		settled := settle(x, e, end)
		last = *x
		if !settled || same(&before, x) {
			return errUnchanged
		}
		ended = !store.Terminal(before.Status)
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil, nil
	case err != nil && !errors.Is(err, errUnchanged):
		return false, nil, fmt.Errorf("record: applying %s of execution %s: %w", e.Type, e.ExecutionID, err)
	case end.Rejected:
		return ended, nil, nil // refused before it ran: not an execution
	}
	return ended, &last, nil
}

// Handler is Apply as an events.Handler over repo.
func Handler(repo Repo) events.Handler {
	return func(ctx context.Context, e events.Event) error { return Apply(ctx, repo, e) }
}

// settle sets the final state of x from a terminal event; false when x already
// ended otherwise.
func settle(x *store.Execution, e events.Event, end events.ExecutionEndData) bool {
	status := statusOf(e.Type)
	if store.Terminal(x.Status) && x.Status != status {
		return false
	}
	x.Status = status
	if x.FinishedAt.IsZero() {
		x.FinishedAt = e.Time
	}
	// Set, never added: applying the same totals twice leaves them as they are.
	x.DurationMS = end.DurationMS
	x.Usage.InputTokens, x.Usage.OutputTokens = end.InputTokens, end.OutputTokens
	x.Cost, x.CostKnown = end.Cost, end.CostKnown
	x.ToolCalls, x.Steps = end.ToolCalls, end.Steps
	x.Provider, x.Model = end.Provider, end.Model
	x.ErrorCode, x.ErrorMessage = end.ErrorCode, end.ErrorMessage
	if end.CancelledBy != "" {
		x.CancelledBy = end.CancelledBy
	}
	if x.Output == "" {
		// The executor stores the whole reply itself; the event's copy (which the
		// publisher may have shortened) only fills a record that has none.
		x.Output = end.Output
	}
	return true
}

func statusOf(eventType string) string {
	switch eventType {
	case events.ExecutionCompleted:
		return store.ExecCompleted
	case events.ExecutionCancelled:
		return store.ExecCancelled
	}
	return store.ExecFailed
}

// same compares the fields settle writes.
func same(a, b *store.Execution) bool {
	return a.Status == b.Status && a.FinishedAt.Equal(b.FinishedAt) && a.DurationMS == b.DurationMS &&
		a.Usage == b.Usage && a.Cost == b.Cost && a.CostKnown == b.CostKnown && a.ToolCalls == b.ToolCalls &&
		a.Steps == b.Steps && a.Provider == b.Provider && a.Model == b.Model && a.ErrorCode == b.ErrorCode &&
		a.ErrorMessage == b.ErrorMessage && a.Output == b.Output && a.CancelledBy == b.CancelledBy
}

// logEntry is e as an entry of the event log: WithoutContent, so the log never
// holds conversation content (the record does, and deleting the conversation
// redacts it there) and a late or redelivered event cannot bring any back; its data
// fitted to the log's budget (store.EncodeEventData), so no event is refused on
// every redelivery.
func logEntry(e events.Event) (store.ExecutionEvent, error) {
	data := e.WithoutContent().Data
	ev := store.ExecutionEvent{ID: e.ID, ExecutionID: e.ExecutionID, UserID: e.UserID, Seq: e.Seq, Type: e.Type, Time: e.Time}
	if data != nil {
		b, err := store.EncodeEventData(data)
		if err != nil {
			return ev, fmt.Errorf("record: encoding %s %s: %w", e.Type, e.ID, err)
		}
		ev.Data = b
	}
	return ev, nil
}

// EndSeq is the seq of a terminal event that ends a run no instance holds (the
// sweep of an overdue run, the cancel of a waiting one): past any seq a run
// reaches (the step limit bounds those), so it sorts last in the log, and the same
// every time, so two such ends of one run are one event (same id).
const EndSeq = 1 << 30

// CancelWaiting ends a run waiting at a human node cancelled by userID, as Ends
// does (so a resume racing it loses, or wins, cleanly): no instance holds a waiting
// run to notice a cancel request, so the sweep ends it. ended is false when the run
// had left waiting meanwhile. The event is returned for the caller to publish.
func CancelWaiting(ctx context.Context, repo Repo, x *store.Execution, userID string, now time.Time) (events.Event, bool, error) {
	e := events.Event{ID: events.ID(x.ID, EndSeq), Version: events.SchemaVersion, Type: events.ExecutionCancelled,
		ExecutionID: x.ID, UserID: x.UserID, ConversationID: x.ConversationID, Seq: EndSeq, Time: now,
		Source: events.SourceRef{Kind: x.Source.Kind, ID: x.Source.ID, Version: x.Source.Version},
		Data: events.ExecutionEndData{Status: store.ExecCancelled, DurationMS: float64(now.Sub(x.StartedAt)) / float64(time.Millisecond),
			Usage: wire.Usage{InputTokens: x.Usage.InputTokens, OutputTokens: x.Usage.OutputTokens, TotalTokens: x.Usage.Total(),
				Cost: x.Cost, CostKnown: x.CostKnown},
			ToolCalls: x.ToolCalls, Steps: x.Steps, Provider: x.Provider, Model: x.Model, ErrorCode: errcode.Cancelled,
			ErrorMessage: "the run was cancelled while it waited for a person", CancelledBy: userID}}
	if x.Status != store.ExecWaiting {
		return e, false, nil
	}
	ended, err := Ends(ctx, repo, e)
	return e, ended, err
}
