package resources_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// POST /executions/{id}/cancel marks a running execution (202, cancel_requested
// and who asked); an ended one is a 409, another user's a 404, and neither changes.
func TestCancelExecution_MarksARunningRunRefusesAnEndedOneAndHidesOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t, envOpts{})
	running := &store.Execution{ID: "exec-running", UserID: "alice", ConversationID: "c1", Source: store.SourceRef{Kind: "dynamic"},
		Mode: "streaming", Status: store.ExecRunning, StartedAt: time.Now(), Deadline: time.Now().Add(11 * time.Minute)}
	if err := e.st.(interface {
		CreateExecution(context.Context, *store.Execution) error
	}).CreateExecution(ctx, running); err != nil {
		t.Fatal(err)
	}

	r := e.post(t, "bob", "/api/v1/executions/exec-running/cancel", "")
	if r.StatusCode != 404 || r.problem(t).Code != "not_found" {
		t.Fatalf("bob cancelling alice's run: %d %s; want 404", r.StatusCode, r.body)
	}
	for i := range 2 { // asking twice is fine
		r = e.post(t, "alice", "/api/v1/executions/exec-running/cancel", "")
		var got wire.Execution
		r.json(t, &got)
		if r.StatusCode != 202 || !got.CancelRequested || got.CancelledBy != "alice" || got.Status != store.ExecRunning {
			t.Fatalf("cancel #%d: %d %s; want 202 with cancel_requested by alice", i+1, r.StatusCode, r.body)
		}
	}
	stored, err := e.st.GetExecution(ctx, "alice", "exec-running")
	if err != nil || !stored.CancelRequested || stored.CancelledBy != "alice" {
		t.Fatalf("stored record %+v, %v; want the cancel request kept", stored, err)
	}

	run := e.chat(t, "alice", `{"message":"hello"}`)
	r = e.post(t, "alice", "/api/v1/executions/"+run.ExecutionID+"/cancel", "")
	if p := r.problem(t); r.StatusCode != 409 || p.Code != "conflict" {
		t.Fatalf("cancelling a finished run: %d %s; want 409 conflict", r.StatusCode, r.body)
	}
	done, err := e.st.GetExecution(ctx, "alice", run.ExecutionID)
	if err != nil || done.Status != store.ExecCompleted || done.CancelRequested {
		t.Fatalf("the finished run after a refused cancel: %+v, %v", done, err)
	}
	r = e.post(t, "alice", "/api/v1/executions/no-such-run/cancel", "")
	if r.StatusCode != 404 {
		t.Fatalf("cancelling a missing run: %d %s; want 404", r.StatusCode, r.body)
	}
}
