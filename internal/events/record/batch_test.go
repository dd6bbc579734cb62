package record_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/store"
)

// counting counts the writes a repo is asked for, and fails the log writes of one
// execution (failExec) as a throttled or unavailable partition would.
type counting struct {
	statsRepo
	appends, updates, counts atomic.Int64
	failExec                 atomic.Value // string
}

var errThrottled = errors.New("throttled")

func (c *counting) AppendEvents(ctx context.Context, userID, execID string, evs []store.ExecutionEvent) error {
	c.appends.Add(1)
	if f, _ := c.failExec.Load().(string); f == execID {
		return errThrottled
	}
	return c.statsRepo.AppendEvents(ctx, userID, execID, evs)
}

func (c *counting) UpdateExecution(ctx context.Context, userID, id string, fn func(*store.Execution) error) (*store.Execution, error) {
	c.updates.Add(1)
	return c.statsRepo.UpdateExecution(ctx, userID, id, fn)
}

func (c *counting) CountRun(ctx context.Context, userID, execID string, keys []store.StatsKey, r store.RunSample) (bool, error) {
	c.counts.Add(1)
	return c.statsRepo.CountRun(ctx, userID, execID, keys, r)
}

// threeRuns stores three running executions and returns their trails (two
// completed, one failed) mixed into one delivery: out of order across and within
// executions, some events twice or three times.
func threeRuns(t *testing.T, r repo) (ids []string, delivery []events.Event) {
	t.Helper()
	failedEnd := events.ExecutionEndData{Status: "failed", ErrorCode: "llm_error", ErrorMessage: "the model call failed", Steps: 1}
	for i, end := range []events.ExecutionEndData{completed, failedEnd, completed} {
		id := fmt.Sprintf("b%d", i)
		running(t, r, id)
		typ := events.ExecutionCompleted
		if end.Status == "failed" {
			typ = events.ExecutionFailed
		}
		trail := chatTrail(id, typ, end)
		ids = append(ids, id)
		delivery = append(delivery, trail...)
		delivery = append(delivery, trail[len(trail)-1], trail[0], trail[3], trail[3])
	}
	rng := rand.New(rand.NewPCG(14, 3))
	rng.Shuffle(len(delivery), func(i, j int) { delivery[i], delivery[j] = delivery[j], delivery[i] })
	for i, e := range delivery {
		got, err := received(e)
		if err != nil {
			t.Fatal(err)
		}
		delivery[i] = got
	}
	return ids, delivery
}

// sqsBatches splits a delivery as an SQS receive does: at most 10 messages each.
func sqsBatches(evs []events.Event) [][]events.Event { return slices.Collect(slices.Chunk(evs, 10)) }

func TestApplyBatch_SameRecordsAsApplyWithFewerWrites(t *testing.T) {
	for name, mk := range implementations {
		t.Run(name, func(t *testing.T) {
			ctx := withDeadline(t)
			one, many := &counting{statsRepo: mk(t).(statsRepo)}, &counting{statsRepo: mk(t).(statsRepo)}
			ids, delivery := threeRuns(t, one)
			if _, again := threeRuns(t, many); !slices.EqualFunc(again, delivery, func(a, b events.Event) bool { return a.ID == b.ID }) {
				t.Fatal("the two deliveries differ")
			}
			for _, e := range delivery {
				if err := record.Apply(ctx, one, e); err != nil {
					t.Fatalf("Apply %s: %v", e.ID, err)
				}
			}
			var wantAppends, wantUpdates int64
			for _, b := range sqsBatches(delivery) {
				execs, ended := map[string]bool{}, map[string]bool{}
				for _, e := range b {
					execs[e.ExecutionID] = true
					ended[e.ExecutionID] = ended[e.ExecutionID] || e.Terminal()
				}
				wantAppends += int64(len(execs))
				for _, x := range ended {
					if x {
						wantUpdates++
					}
				}
				errs := record.ApplyBatch(ctx, many, b)
				if len(errs) != len(b) {
					t.Fatalf("%d outcomes for %d events", len(errs), len(b))
				}
				for i, err := range errs {
					if err != nil {
						t.Fatalf("ApplyBatch %s: %v", b[i].ID, err)
					}
				}
			}
			for _, id := range ids {
				wantX, wantLog := state(t, one, id)
				gotX, gotLog := state(t, many, id)
				compare(t, id, wantX, wantLog, gotX, gotLog)
			}
			key := store.TemplateStatsKey("general_chat")
			want, err := one.RunStats(ctx, "u1", key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := many.RunStats(ctx, "u1", key)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Runs != 3 || got[0].Completed != 2 || got[0].Failed != 1 || got[0].InputTokens != want[0].InputTokens ||
				got[0].Cost != want[0].Cost {
				t.Errorf("stats after batches %+v, want three runs counted once each, as Apply left %+v", got[0], want[0])
			}
			if a, u := many.appends.Load(), many.updates.Load(); a != wantAppends || u != wantUpdates {
				t.Errorf("batches: %d AppendEvents and %d UpdateExecution, want one log write per execution and batch (%d) "+
					"and one settle per execution and batch holding its end (%d)", a, u, wantAppends, wantUpdates)
			}
			perEvent := one.appends.Load() + one.updates.Load() + one.counts.Load()
			batched := many.appends.Load() + many.updates.Load() + many.counts.Load()
			t.Logf("%d events: %d writes one by one, %d in batches of 10", len(delivery), perEvent, batched)
			if batched*2 > perEvent {
				t.Errorf("batches made %d writes, one by one %d: want at most half", batched, perEvent)
			}
		})
	}
}

func TestApplyBatch_AFailedWriteFailsOnlyItsExecutionsEvents(t *testing.T) {
	for name, mk := range implementations {
		t.Run(name, func(t *testing.T) {
			ctx := withDeadline(t)
			r := &counting{statsRepo: mk(t).(statsRepo)}
			ids, delivery := threeRuns(t, r)
			r.failExec.Store(ids[1])
			errs := record.ApplyBatch(ctx, r, delivery)
			var again []events.Event
			for i, e := range delivery {
				switch {
				case e.ExecutionID == ids[1] && !errors.Is(errs[i], errThrottled):
					t.Errorf("%s of the failing execution: err %v, want the write's error", e.ID, errs[i])
				case e.ExecutionID != ids[1] && errs[i] != nil:
					t.Errorf("%s of another execution: err %v, want nil", e.ID, errs[i])
				}
				if errs[i] != nil {
					again = append(again, e)
				}
			}
			for _, id := range []string{ids[0], ids[2]} {
				if x, log := state(t, r, id); !store.Terminal(x.Status) || len(log) != 13 {
					t.Errorf("%s: status %s, %d logged, want ended with its 13 events", id, x.Status, len(log))
				}
			}
			if x, log := state(t, r, ids[1]); x.Status != store.ExecRunning || len(log) != 0 {
				t.Errorf("%s: status %s, %d logged, want nothing written", ids[1], x.Status, len(log))
			}
			// Redelivered once the table is back, the failed events land.
			r.failExec.Store("")
			for i, err := range record.ApplyBatch(ctx, r, again) {
				if err != nil {
					t.Fatalf("redelivery of %s: %v", again[i].ID, err)
				}
			}
			if x, log := state(t, r, ids[1]); x.Status != store.ExecFailed || x.ErrorCode != "llm_error" || len(log) != 13 {
				t.Errorf("%s after redelivery: status %s code %q, %d logged", ids[1], x.Status, x.ErrorCode, len(log))
			}
		})
	}
}
