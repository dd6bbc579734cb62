package devstack_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/devstack"
)

// The dev stack sweeps at once (a restart ends what a killed stack left running)
// and then every period, a failed sweep not stopping the next, until ctx ends.
func TestSweepEvery_SweepsAtOnceThenEachPeriodUntilStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n atomic.Int32
	third := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		devstack.SweepEvery(ctx, 10*time.Millisecond, func(context.Context) error {
			if n.Add(1) == 3 {
				close(third)
			}
			return errors.New("table unavailable") // logged; the loop goes on
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	select {
	case <-third:
	case <-ctx.Done():
		t.Fatalf("only %d sweeps ran", n.Load())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("SweepEvery did not stop with its context")
	}
}
