package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// peekSink reads the execution record while the run is going.
type peekSink struct {
	read func() *store.Execution
	seen *store.Execution
}

func (p *peekSink) Send(c wire.Chunk) error {
	if c.Type == wire.ChunkStart && p.seen == nil {
		p.seen = p.read()
	}
	return nil
}

// A running execution carries its deadline (the run limit plus store.DeadlineSlack)
// and its request's Idempotency-Key, so a sweep can end it if its instance dies
// and free the key; the ended record is swept by nobody.
func TestExecute_RunningRecordCarriesItsDeadlineAndIdempotencyKey(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.RunTimeout = 2 * time.Minute })
	// The test's own deadline lies past the run limit, so the limit is RunTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req := inline(chatDef(), "hello")
	req.Input.UserID = userA
	req.ExecutionID = "exec-deadline"
	req.Idempotency = &store.IdempotencyRef{Key: "k1", RequestHash: "h1"}
	sink := &peekSink{read: func() *store.Execution {
		e, err := h.store.GetExecution(ctx, userA, "exec-deadline")
		if err != nil {
			t.Errorf("GetExecution while running: %v", err)
			return nil
		}
		return e
	}}
	res, err := h.x.Execute(ctx, req, sink)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	e := sink.seen
	if e == nil || e.Status != store.ExecRunning {
		t.Fatalf("record while running: %+v", e)
	}
	if want := e.StartedAt.Add(2*time.Minute + store.DeadlineSlack); !e.Deadline.Equal(want) {
		t.Errorf("deadline %v; want %v (run limit plus slack)", e.Deadline, want)
	}
	if e.Idempotency == nil || *e.Idempotency != *req.Idempotency {
		t.Errorf("idempotency ref %+v; want %+v", e.Idempotency, req.Idempotency)
	}
	runs, err := h.store.ListOverdue(ctx, e.Deadline.Add(time.Hour))
	if err != nil || len(runs) != 0 {
		t.Errorf("after the run ended (%s) ListOverdue = %+v, %v; want none", res.Status, runs, err)
	}
}
