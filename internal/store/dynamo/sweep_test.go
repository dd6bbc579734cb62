package dynamo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// killedRun stores what a run leaves when its instance dies mid-way: the user
// message, the running execution with its deadline, and its Idempotency-Key in
// progress. It never finishes.
func killedRun(t *testing.T, s *dynamo.Store, user string, started time.Time) *store.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conv := fmt.Sprintf("c-%d", time.Now().UnixNano())
	ref := &store.IdempotencyRef{Key: "key-" + conv, RequestHash: "hash-" + conv}
	if err := s.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: ref.Key, RequestHash: ref.RequestHash,
		State: store.IdemInProgress, CreatedAt: started, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("CreateIdempotency: %v", err)
	}
	e := &store.Execution{ID: fmt.Sprintf("e-%d", time.Now().UnixNano()), UserID: user, ConversationID: conv,
		Source: store.SourceRef{Kind: "dynamic"}, Mode: "standard", Status: store.ExecRunning, StartedAt: started,
		Deadline: started.Add(time.Minute), Idempotency: ref}
	m := &store.Message{ID: "m-" + e.ID, ConversationID: conv, UserID: user, ExecutionID: e.ID, Role: llm.RoleUser,
		Content: "hello", Status: store.StatusComplete, CreatedAt: started}
	if err := s.StartTurn(ctx, store.StartTurn{UserMessage: m, Execution: e,
		NewConversation: &store.Conversation{ID: conv, UserID: user, Title: "hello", CreatedAt: started, UpdatedAt: started}}); err != nil {
		t.Fatalf("StartTurn: %v", err)
	}
	return e
}

func failedEvents(rec *events.Recorder, execID string) []events.Event {
	var out []events.Event
	for _, e := range rec.Events() {
		if e.ExecutionID == execID && e.Type == events.ExecutionFailed {
			out = append(out, e)
		}
	}
	return out
}

func TestSweep_EndsARunKilledMidWayReleasesItsKeyAndEmitsOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, _ := client(t)
	s := dynamo.New(db, freshTable(t, db), dynamo.Options{})
	user := fmt.Sprintf("u-sweep-%d", time.Now().UnixNano())
	started := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	e := killedRun(t, s, user, started)
	rec := &events.Recorder{}
	now := started
	sw := &executor.Sweeper{Store: s, Emitter: rec, Now: func() time.Time { return now }}

	// Before the deadline the run is left alone.
	now = e.Deadline.Add(-time.Second)
	if rep, err := sw.Sweep(ctx); err != nil || rep.Ended != 0 {
		t.Fatalf("sweep before the deadline: %+v, %v; want nothing ended", rep, err)
	}
	// One sweep after the deadline ends it.
	now = e.Deadline.Add(time.Second)
	rep, err := sw.Sweep(ctx)
	if err != nil || rep.Found != 1 || rep.Ended != 1 {
		t.Fatalf("sweep after the deadline: %+v, %v; want the one run ended", rep, err)
	}
	got, err := s.GetExecution(ctx, user, e.ID)
	if err != nil || got.Status != store.ExecFailed || got.ErrorCode != errcode.Timeout || got.FinishedAt.IsZero() {
		t.Fatalf("swept execution %+v, %v; want failed with code timeout", got, err)
	}
	evs := failedEvents(rec, e.ID)
	if len(evs) != 1 || evs[0].ConversationID != e.ConversationID || evs[0].ID != events.ID(e.ID, executor.SweepSeq) {
		t.Fatalf("emitted %+v; want one execution_failed of the run", evs)
	}
	if d, ok := evs[0].EndData(); !ok || d.ErrorCode != errcode.Timeout || d.Status != store.ExecFailed {
		t.Fatalf("event data %+v", evs[0].Data)
	}
	log, err := s.ListEvents(ctx, user, e.ID, store.PageRequest{})
	if err != nil || len(log.Items) != 1 || log.Items[0].Type != events.ExecutionFailed {
		t.Fatalf("event log %+v, %v; want the execution_failed entry", log.Items, err)
	}
	// The key answers anew: a retry may take it.
	err = s.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: e.Idempotency.Key,
		RequestHash: e.Idempotency.RequestHash, State: store.IdemInProgress, CreatedAt: now, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatalf("retrying with the swept run's key: %v; want the key free", err)
	}
	// Off the index: the next sweep finds nothing and emits nothing.
	rec.Reset()
	if rep, err := sw.Sweep(ctx); err != nil || rep.Found != 0 || len(rec.Events()) != 0 {
		t.Fatalf("second sweep: %+v, %v, events %v; want nothing", rep, err, rec.Events())
	}
	// The user message is kept.
	if msgs := allMessages(t, s, user, e.ConversationID); len(msgs) != 1 || msgs[0].Content != "hello" {
		t.Fatalf("messages after the sweep: %+v", msgs)
	}
}

// finishingStore finishes the run right after the sweep read it running: the sweep
// decided on a stale read and must lose to the real finish.
type finishingStore struct {
	*dynamo.Store
	finish func()
}

func (f *finishingStore) GetExecution(ctx context.Context, userID, id string) (*store.Execution, error) {
	e, err := f.Store.GetExecution(ctx, userID, id)
	if err == nil && f.finish != nil {
		f.finish()
		f.finish = nil
	}
	return e, err
}

func TestSweep_RacingARealFinishChangesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, _ := client(t)
	s := dynamo.New(db, freshTable(t, db), dynamo.Options{})
	user := fmt.Sprintf("u-race-%d", time.Now().UnixNano())
	started := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	e := killedRun(t, s, user, started)
	fs := &finishingStore{Store: s, finish: func() {
		done := *e
		done.Status, done.FinishedAt, done.Output = store.ExecCompleted, e.Deadline.Add(time.Second), "late but whole"
		if err := s.FinishTurn(ctx, user, e.ConversationID, store.FinishTurn{Execution: &done,
			AssistantMessage: &store.Message{ID: "a-" + e.ID, ConversationID: e.ConversationID, UserID: user,
				ExecutionID: e.ID, Role: llm.RoleAssistant, Content: "late but whole", Status: store.StatusComplete,
				CreatedAt: done.FinishedAt}}); err != nil {
			t.Errorf("FinishTurn: %v", err)
		}
	}}
	rec := &events.Recorder{}
	sw := &executor.Sweeper{Store: fs, Emitter: rec, Now: func() time.Time { return e.Deadline.Add(2 * time.Second) }}
	rep, err := sw.Sweep(ctx)
	if err != nil || rep.Ended != 0 {
		t.Fatalf("sweep racing the finish: %+v, %v; want nothing ended", rep, err)
	}
	got, err := s.GetExecution(ctx, user, e.ID)
	if err != nil || got.Status != store.ExecCompleted || got.ErrorCode != "" || got.Output != "late but whole" {
		t.Fatalf("execution after the race %+v, %v; want the real finish kept", got, err)
	}
	if evs := failedEvents(rec, e.ID); len(evs) != 0 {
		t.Fatalf("the losing sweep emitted %+v", evs)
	}
	// The finished run's key is not the sweep's to release.
	if _, err := s.GetIdempotency(ctx, user, e.Idempotency.Key); err != nil {
		t.Fatalf("the key of a run that finished was released: %v", err)
	}
	if log, err := s.ListEvents(ctx, user, e.ID, store.PageRequest{}); err == nil && len(log.Items) != 0 {
		t.Fatalf("the losing sweep left %+v in the event log", log.Items)
	}
}

// A run waiting for a person past its deadline (the human node's timeout) is swept
// like a running one: failed with code timeout, emitted once.
func TestSweep_EndsAWaitingRunPastItsDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, _ := client(t)
	s := dynamo.New(db, freshTable(t, db), dynamo.Options{})
	user := fmt.Sprintf("u-sweep-wait-%d", time.Now().UnixNano())
	started := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	e := killedRun(t, s, user, started)
	deadline := started.Add(30 * time.Minute)
	if _, err := s.UpdateExecution(ctx, user, e.ID, func(x *store.Execution) error {
		x.Status, x.Deadline = store.ExecWaiting, deadline
		return nil
	}); err != nil {
		t.Fatalf("the run waits: %v", err)
	}
	rec := &events.Recorder{}
	now := deadline.Add(-time.Second)
	sw := &executor.Sweeper{Store: s, Emitter: rec, Now: func() time.Time { return now }}
	if rep, err := sw.Sweep(ctx); err != nil || rep.Ended != 0 {
		t.Fatalf("sweep before the wait's deadline: %+v, %v; want nothing ended", rep, err)
	}
	now = deadline.Add(time.Second)
	if rep, err := sw.Sweep(ctx); err != nil || rep.Ended != 1 {
		t.Fatalf("sweep after the wait's deadline: %+v, %v; want the waiting run ended", rep, err)
	}
	got, err := s.GetExecution(ctx, user, e.ID)
	if err != nil || got.Status != store.ExecFailed || got.ErrorCode != errcode.Timeout {
		t.Fatalf("swept waiting execution %+v, %v; want failed with code timeout", got, err)
	}
	if evs := failedEvents(rec, e.ID); len(evs) != 1 {
		t.Fatalf("emitted %+v; want one execution_failed", evs)
	}
}

// A waiting run cancelled (the cancel route makes it overdue at once) is ended by
// the next sweep cancelled, naming who asked, with one execution_cancelled.
func TestSweep_EndsAWaitingRunCancelledAsCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, _ := client(t)
	s := dynamo.New(db, freshTable(t, db), dynamo.Options{})
	user := fmt.Sprintf("u-sweep-cancel-%d", time.Now().UnixNano())
	e := killedRun(t, s, user, time.Now().Add(-time.Minute).Truncate(time.Millisecond))
	asked := time.Now().Add(-time.Second)
	if _, err := s.UpdateExecution(ctx, user, e.ID, func(x *store.Execution) error {
		x.Status, x.Deadline = store.ExecWaiting, asked
		return store.RequestCancel(x, user)
	}); err != nil {
		t.Fatalf("the waiting run is cancelled: %v", err)
	}
	rec := &events.Recorder{}
	sw := &executor.Sweeper{Store: s, Emitter: rec}
	if rep, err := sw.Sweep(ctx); err != nil || rep.Ended != 1 {
		t.Fatalf("sweep: %+v, %v; want the cancelled waiting run ended", rep, err)
	}
	got, err := s.GetExecution(ctx, user, e.ID)
	if err != nil || got.Status != store.ExecCancelled || got.CancelledBy != user || got.ErrorCode != errcode.Cancelled {
		t.Fatalf("swept execution %+v, %v; want cancelled by %s", got, err, user)
	}
	var n int
	for _, ev := range rec.Events() {
		if ev.ExecutionID == e.ID && ev.Type == events.ExecutionCancelled {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d execution_cancelled events, want 1", n)
	}
	if rep, err := sw.Sweep(ctx); err != nil || rep.Ended != 0 {
		t.Fatalf("a second sweep: %+v, %v; want nothing", rep, err)
	}
}
