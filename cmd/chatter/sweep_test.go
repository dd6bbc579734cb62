package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
)

// A stack killed mid-run leaves the run running and its Idempotency-Key in
// progress (a retry: 409 "still running"). The dev stack's sweeper, on its short
// period, ends the run failed/timeout once past its deadline and frees the key: the
// retry then runs anew.
func TestDevStack_SweepsARunAKilledStackLeftRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := devStackForTest(t, ctx)
	user := "killed-" + time.Now().Format("150405.000000")
	tok, err := s.Identity.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	// What the killed stack left on the same store.
	started := time.Now().Add(-15 * time.Minute)
	key := &store.IdempotencyRef{Key: "retry-me", RequestHash: "hash-of-the-killed-request"}
	if err := s.App.Store.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: key.Key, RequestHash: key.RequestHash,
		State: store.IdemInProgress, CreatedAt: started, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e := &store.Execution{ID: "killed-run-" + user, UserID: user, ConversationID: "conv-" + user, Source: store.SourceRef{Kind: "dynamic"},
		Mode: "standard", Status: store.ExecRunning, StartedAt: started, Deadline: started.Add(11 * time.Minute), Idempotency: key}
	if err := s.App.Store.StartTurn(ctx, store.StartTurn{Execution: e,
		UserMessage: &store.Message{ID: "m-" + user, ConversationID: e.ConversationID, UserID: user, ExecutionID: e.ID,
			Role: llm.RoleUser, Content: "hello", Status: store.StatusComplete, CreatedAt: started},
		NewConversation: &store.Conversation{ID: e.ConversationID, UserID: user, Title: "hello", CreatedAt: started, UpdatedAt: started}}); err != nil {
		t.Fatal(err)
	}
	var got *store.Execution
	for ctx.Err() == nil {
		if got, err = s.App.Store.GetExecution(ctx, user, e.ID); err == nil && got.Status != store.ExecRunning {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got == nil || got.Status != store.ExecFailed || got.ErrorCode != "timeout" {
		t.Fatalf("after the sweeps the run is %+v (%v); want failed with code timeout", got, err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/v1/workflows/execute/chat", strings.NewReader(`{"message":"again"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the retry with the swept run's key: %d; want it to run anew (200)", resp.StatusCode)
	}
}
