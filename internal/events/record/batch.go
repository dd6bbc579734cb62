package record

import (
	"cmp"
	"context"
	"slices"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/store"
)

// ApplyBatch stores evs — one delivered batch: events of any executions, in any
// order, duplicates included — as Apply would store each of them, with fewer
// writes: per execution one AppendEvents (its events in seq order, each id once)
// and what update makes of them (at most one settle of the record and one count).
//
// errs[i] is the outcome of evs[i], so a caller redelivers only the events that
// failed (an SQS event source's ReportBatchItemFailures): an event that cannot be
// encoded fails alone; a failed write fails every event of its execution in the
// batch, and those of the other executions stand.
func ApplyBatch(ctx context.Context, repo Repo, evs []events.Event) (errs []error) {
	errs = make([]error, len(evs))
	type key struct{ user, exec string }
	groups := map[key][]int{}
	var order []key
	for i, e := range evs {
		if e.UserID == "" {
			continue // nothing to keep: see Apply
		}
		k := key{e.UserID, e.ExecutionID}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(evs[a].Seq, evs[b].Seq) })
		// Each id once, in seq order; a duplicate shares the outcome of its first copy.
		first := map[string]int{}
		var run []events.Event
		var entries []store.ExecutionEvent
		var at []int // evs index of each entry
		for _, i := range idx {
			e := evs[i]
			if _, dup := first[e.ID]; dup {
				continue
			}
			first[e.ID] = i
			ev, err := logEntry(e)
			if err != nil {
				errs[i] = err
				continue
			}
			run, entries, at = append(run, e), append(entries, ev), append(at, i)
		}
		err := appendEntries(ctx, repo, k.user, k.exec, entries)
		if err == nil {
			err = update(ctx, repo, run)
		}
		for _, i := range at {
			errs[i] = err
		}
		for _, i := range idx {
			if f := first[evs[i].ID]; f != i {
				errs[i] = errs[f]
			}
		}
	}
	return errs
}

// update is what an execution's events (in seq order, each once, already in its
// log) do to its record — the one place an event type's effect on the record is
// decided, for Apply and ApplyBatch alike: the first terminal event settles it
// (status, totals) and counts the run in its source's statistics; a later terminal
// event of the same batch is only logged (the first by seq ends the run: a sweep's
// execution_failed, seq executor.SweepSeq, never overrides the run's own end).
// Other types only join the log.
func update(ctx context.Context, repo Repo, run []events.Event) error {
	for _, e := range run {
		if !e.Terminal() {
			continue
		}
		_, final, err := settleRecord(ctx, repo, e)
		if err != nil || final == nil {
			return err
		}
		return count(ctx, repo, final)
	}
	return nil
}
