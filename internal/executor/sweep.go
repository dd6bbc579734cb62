package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// SweepStore is the storage a Sweeper needs (store.Memory and the DynamoDB store
// provide it).
type SweepStore interface {
	record.Repo
	// ListOverdue returns running executions whose deadline is before now, at most
	// store.MaxOverdue, without a table scan.
	ListOverdue(ctx context.Context, now time.Time) ([]store.OverdueRun, error)
	// GetExecution returns an execution. Returns not_found if it does not exist.
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	// ReleaseIdempotency deletes the in-progress record of a request. Returns
	// not_found if there is none (a completed record is never released).
	ReleaseIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
}

// SweepSeq is the seq of the execution_failed event a sweep emits (record.EndSeq).
const SweepSeq = record.EndSeq

// Sweeper ends runs whose instance died (a Lambda killed, a dev stack stopped
// mid-run): a running execution past its deadline (see store.DeadlineSlack) ends
// failed with code timeout through record.Ends — the record subscriber's own
// update, so the first terminal write wins and a run that finished meanwhile keeps
// its end — its Idempotency-Key is released (a retry runs anew instead of a 409
// "still running") and execution_failed is emitted, only by the sweep that ended it.
type Sweeper struct {
	Store   SweepStore
	Emitter Emitter
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
}

// SweepReport says what one sweep did.
type SweepReport struct {
	Found int // overdue runs listed
	Ended int // runs this sweep ended
}

// Sweep ends every overdue run it finds (at most store.MaxOverdue; the next sweep
// finds the rest). A run it cannot end is left for the next sweep and its error
// joined into the returned one.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	runs, err := s.Store.ListOverdue(ctx, now)
	if err != nil {
		return SweepReport{}, fmt.Errorf("sweep: %w", err)
	}
	rep := SweepReport{Found: len(runs)}
	var errs []error
	for _, o := range runs {
		ended, err := s.end(ctx, o, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ended {
			rep.Ended++
			s.logger().Info("swept an overdue run", "execution_id", o.ID, "deadline", o.Deadline)
			if err := s.Emitter.Flush(ctx, o.ID); err != nil {
				errs = append(errs, fmt.Errorf("sweep: flushing events of %s: %w", o.ID, err))
			}
		}
	}
	return rep, errors.Join(errs...)
}

// end ends one overdue run; false when it had ended already (or is not overdue
// any more: a record read fresh decides, not the index).
func (s *Sweeper) end(ctx context.Context, o store.OverdueRun, now time.Time) (bool, error) {
	x, err := s.Store.GetExecution(ctx, o.UserID, o.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sweep: reading execution %s: %w", o.ID, err)
	}
	if !store.Overdue(x, now) {
		return false, nil
	}
	if x.Status == store.ExecWaiting && x.CancelRequested {
		// Cancelled while it waited for a person (resources.CancelExecution).
		e, ended, err := record.CancelWaiting(ctx, s.Store, x, x.CancelledBy, now)
		if ended {
			s.Emitter.Emit(ctx, e)
		}
		return ended, err
	}
	e := events.Event{ID: events.ID(x.ID, SweepSeq), Version: events.SchemaVersion, Type: events.ExecutionFailed,
		ExecutionID: x.ID, UserID: x.UserID, ConversationID: x.ConversationID, Seq: SweepSeq, Time: now,
		Source: events.SourceRef{Kind: x.Source.Kind, ID: x.Source.ID, Version: x.Source.Version},
		Data: events.ExecutionEndData{Status: store.ExecFailed, DurationMS: float64(now.Sub(x.StartedAt)) / float64(time.Millisecond),
			ErrorCode: errcode.Timeout, ErrorMessage: fmt.Sprintf("the run did not end by its deadline (%s); its instance stopped",
				x.Deadline.UTC().Format(time.RFC3339))}}
	ended, err := record.Ends(ctx, s.Store, e)
	if !ended {
		return false, err
	}
	if ref := x.Idempotency; ref != nil {
		err := s.Store.ReleaseIdempotency(ctx, &store.IdempotencyRecord{UserID: x.UserID, Key: ref.Key, RequestHash: ref.RequestHash})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			// The run is ended; the key still expires with its TTL.
			s.logger().Warn("sweep: releasing the idempotency key", "execution_id", x.ID, "err", err)
		}
	}
	s.Emitter.Emit(ctx, e)
	return true, err
}

func (s *Sweeper) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}
