package chat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

func TestChat_IdempotencyKeyRunsOnceAndReplays(t *testing.T) {
	e := newEnv(t, envOpts{idem: true})
	const path = "/api/v1/workflows/execute/chat"
	body := `{"message":"charge my card once"}`
	r1, b1 := e.post(t, "alice", path, body, "Idempotency-Key", "k-1")
	r2, b2 := e.post(t, "alice", path, body, "Idempotency-Key", "k-1")
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("statuses %d, %d: %s", r1.StatusCode, r2.StatusCode, b2)
	}
	if r1.Header.Get("Idempotent-Replayed") != "" || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay headers %q, %q", r1.Header.Get("Idempotent-Replayed"), r2.Header.Get("Idempotent-Replayed"))
	}
	if string(b1) != string(b2) {
		t.Fatalf("replayed body differs:\n%s\n%s", b1, b2)
	}
	var resp struct {
		ConversationID string `json:"conversation_id"`
	}
	if err := json.Unmarshal(b1, &resp); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Memory.Messages(context.Background(), "alice", resp.ConversationID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("the run happened more than once: %d messages, %v", len(msgs), err)
	}

	// The same key with another body, and the key of another user, behave apart.
	r3, b3 := e.post(t, "alice", path, `{"message":"something else"}`, "Idempotency-Key", "k-1")
	if r3.StatusCode != http.StatusConflict {
		t.Fatalf("reused key with another request: %d %s", r3.StatusCode, b3)
	}
	r4, _ := e.post(t, "bob", path, body, "Idempotency-Key", "k-1")
	if r4.StatusCode != 200 || r4.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("keys are per user: %d replayed=%q", r4.StatusCode, r4.Header.Get("Idempotent-Replayed"))
	}
	// Without the header nothing is kept.
	r5, b5 := e.post(t, "alice", path, body)
	if r5.StatusCode != 200 || string(b5) == string(b1) {
		t.Fatalf("a request without a key was replayed")
	}
}

func TestChat_IdempotencyReplaysProblemsToo(t *testing.T) {
	e := newEnv(t, envOpts{idem: true})
	const path = "/api/v1/workflows/execute/chat"
	body := `{"message":"hi","provider":"openai"}` // not configured: 400
	r1, b1 := e.post(t, "alice", path, body, "Idempotency-Key", "k-2")
	r2, b2 := e.post(t, "alice", path, body, "Idempotency-Key", "k-2")
	if r1.StatusCode != 400 || r2.StatusCode != 400 || string(b1) != string(b2) ||
		r2.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %d %q\n%s\n%s", r1.StatusCode, r2.StatusCode, r2.Header.Get("Content-Type"), b1, b2)
	}
}
