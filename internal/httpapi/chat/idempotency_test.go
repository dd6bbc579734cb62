package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
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

// signalling is devllm that tells the test when a model call starts.
type signalling struct {
	*devllm.Provider
	calls chan struct{}
}

func (s *signalling) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	select {
	case s.calls <- struct{}{}:
	default:
	}
	return s.Provider.Stream(ctx, req)
}

// A client that times out and retries with the same key (the documented use) gets
// a fresh run, not the first run's 499 replayed for a day.
func TestChat_IdempotencyRetryAfterTheClientGaveUpRunsAnew(t *testing.T) {
	p := &signalling{Provider: devllm.New(devllm.Options{Delay: 20 * time.Millisecond}), calls: make(chan struct{}, 1)}
	e := newEnv(t, envOpts{idem: true, provider: p})
	const path = "/api/v1/workflows/execute/chat"
	body := `{"message":"one two three four five six seven eight nine ten eleven twelve"}`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first, giveUp := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(e.request(t, "alice", path, body, "Idempotency-Key", "k-timeout").WithContext(first))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-p.calls:
	case <-ctx.Done():
		t.Fatal("the first run never called the model")
	}
	giveUp()
	if err := <-errc; err == nil {
		t.Fatal("the first request finished before the client gave up")
	}
	// The cancelled run finishes (execution cancelled, partial reply saved) and then
	// releases the key.
	for {
		if _, err := e.st.Memory.GetIdempotency(ctx, "alice", "k-timeout"); errors.Is(err, store.ErrNotFound) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the key of the cancelled request was never released")
		case <-time.After(10 * time.Millisecond):
		}
	}
	r2, b2 := e.post(t, "alice", path, body, "Idempotency-Key", "k-timeout")
	if r2.StatusCode != 200 || r2.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry: %d replayed=%q %s; want a fresh 200", r2.StatusCode, r2.Header.Get("Idempotent-Replayed"), b2)
	}
	r3, b3 := e.post(t, "alice", path, body, "Idempotency-Key", "k-timeout")
	if r3.StatusCode != 200 || r3.Header.Get("Idempotent-Replayed") != "true" || string(b3) != string(b2) {
		t.Fatalf("third request: %d replayed=%q; want the retry's answer replayed", r3.StatusCode, r3.Header.Get("Idempotent-Replayed"))
	}
}
