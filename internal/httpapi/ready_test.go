package httpapi_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi"
)

func TestReady_OpenAnswersTheStoreAndCachesItsAnswer(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	var calls atomic.Int32
	var fail atomic.Bool
	a := newTestAPI(t, httpapi.Config{
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Ready: func(ctx context.Context) error {
			calls.Add(1)
			if _, ok := ctx.Deadline(); !ok {
				t.Error("readiness check runs without a deadline")
			}
			if fail.Load() {
				return errors.New("dial tcp 10.0.0.1:443: secret-host unreachable")
			}
			return nil
		},
	})
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if resp, b := a.do(t, "GET", "/ready", "", ""); resp.StatusCode != 200 || !strings.Contains(string(b), `"ready"`) {
		t.Fatalf("ready without a token: %d %s", resp.StatusCode, b)
	}
	fail.Store(true)
	if resp, _ := a.do(t, "GET", "/ready", "", ""); resp.StatusCode != 200 || calls.Load() != 1 {
		t.Fatalf("within the cache period: %d after %d checks, want 200 after 1", resp.StatusCode, calls.Load())
	}
	advance(6 * time.Second)
	resp, b := a.do(t, "GET", "/ready", "", "")
	p := problemOf(t, resp, b)
	if resp.StatusCode != 503 || p.Code != "unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("store down: %d %s (Retry-After %q)", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(string(b), "secret-host") {
		t.Errorf("the cause reaches the client: %s", b)
	}
	// Liveness does not ask the store.
	before := calls.Load()
	if resp, _ := a.do(t, "GET", "/health", "", ""); resp.StatusCode != 200 || calls.Load() != before {
		t.Errorf("health: %d, store checks %d -> %d", resp.StatusCode, before, calls.Load())
	}
}

func TestReady_AbsentWithoutACheck(t *testing.T) {
	a := newTestAPI(t, httpapi.Config{})
	if resp, _ := a.do(t, "GET", "/ready", "", ""); resp.StatusCode != 404 {
		t.Errorf("GET /ready without Config.Ready: %d, want 404", resp.StatusCode)
	}
}
