package executor

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitDone fails t unless ch closes within a second.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatalf("%s: not done within a second", what)
	}
}

func TestDeadlineCtx_EndsAtItsDeadlineWaitedOnOrNot(t *testing.T) {
	// Nobody waits: Err sees the deadline by the clock.
	c := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	cancel := c.cancel
	defer cancel()
	if c.Err() != nil {
		t.Fatalf("Err before the deadline: %v", c.Err())
	}
	time.Sleep(30 * time.Millisecond)
	if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(cause(c), context.DeadlineExceeded) {
		t.Fatalf("Err %v, cause %v after the deadline, want DeadlineExceeded", c.Err(), cause(c))
	}
	waitDone(t, c.Done(), "Done after the deadline")

	// The first waiter comes after the deadline: Done is closed at once.
	c3 := withDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	cancel3 := c3.cancel
	defer cancel3()
	waitDone(t, c3.Done(), "Done first called after the deadline")

	// A waiter: Done closes at the deadline by the timer.
	c2 := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	cancel2 := c2.cancel
	defer cancel2()
	waitDone(t, c2.Done(), "Done at the deadline")
	if !errors.Is(c2.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v, want DeadlineExceeded", c2.Err())
	}
}

func TestDeadlineCtx_TakesTheEarlierOfItsAndItsParentsDeadline(t *testing.T) {
	p, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	pd, _ := p.Deadline()
	c := withDeadline(p, pd.Add(time.Hour))
	cancel := c.cancel
	defer cancel()
	if d, ok := c.Deadline(); !ok || !d.Equal(pd) {
		t.Fatalf("Deadline %v %v, want the parent's %v", d, ok, pd)
	}
	c2 := withDeadline(p, pd.Add(-time.Second))
	cancel2 := c2.cancel
	defer cancel2()
	if d, _ := c2.Deadline(); !d.Equal(pd.Add(-time.Second)) {
		t.Fatalf("Deadline %v, want its own", d)
	}
}

func TestDeadlineCtx_FollowsItsParentsCancellation(t *testing.T) {
	for _, waited := range []bool{false, true} {
		p, pcancel := context.WithCancelCause(context.Background())
		c := withDeadline(p, time.Now().Add(time.Minute))
		cancel := c.cancel
		var done <-chan struct{}
		if waited {
			done = c.Done()
		}
		why := errors.New("client went away")
		pcancel(why)
		if waited {
			waitDone(t, done, "Done after the parent's cancel")
		}
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(cause(c), why) {
			t.Fatalf("waited %v: Err %v cause %v, want Canceled and the parent's cause", waited, c.Err(), cause(c))
		}
		cancel()
	}
}

func TestDeadlineCtx_CancelEndsItOnceAndKeepsTheFirstReason(t *testing.T) {
	c := withDeadline(context.Background(), time.Now().Add(time.Minute))
	cancel := c.cancel
	done := c.Done()
	cancel()
	waitDone(t, done, "Done after cancel")
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err %v, want Canceled", c.Err())
	}
	c.end(context.DeadlineExceeded, false) // a late timer
	cancel()
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(cause(c), context.Canceled) {
		t.Fatalf("Err %v cause %v after a second end, want the first (Canceled)", c.Err(), cause(c))
	}
}

func TestDeadlineCtx_DetachedKeepsValuesNotCancellation(t *testing.T) {
	type key struct{}
	p, pcancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	c := withDeadline(context.WithoutCancel(p), time.Now().Add(time.Minute))
	cancel := c.cancel
	defer cancel()
	done := c.Done()
	pcancel()
	if c.Err() != nil {
		t.Fatalf("Err %v after the parent's cancel, want nil (detached)", c.Err())
	}
	select {
	case <-done:
		t.Fatal("Done closed by the parent's cancel")
	case <-time.After(20 * time.Millisecond):
	}
	if c.Value(key{}) != "v" {
		t.Fatalf("Value %v, want the parent's", c.Value(key{}))
	}
}

func TestDeadlineCtx_DerivedContextsAndAfterFuncEndWithIt(t *testing.T) {
	c := withDeadline(context.Background(), time.Now().Add(30*time.Millisecond))
	cancel := c.cancel
	defer cancel()
	child, ccancel := context.WithTimeout(c, time.Minute)
	defer ccancel()
	ran := make(chan struct{})
	context.AfterFunc(c, func() { close(ran) })
	stopped := make(chan struct{})
	stop := context.AfterFunc(c, func() { close(stopped) })
	if !stop() {
		t.Fatal("stop of a pending AfterFunc reported false")
	}
	waitDone(t, child.Done(), "a derived context")
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("derived Err %v, want DeadlineExceeded", child.Err())
	}
	waitDone(t, ran, "AfterFunc")
	select {
	case <-stopped:
		t.Fatal("a stopped AfterFunc ran")
	case <-time.After(20 * time.Millisecond):
	}
	// After the end a new AfterFunc runs at once.
	late := make(chan struct{})
	context.AfterFunc(c, func() { close(late) })
	waitDone(t, late, "AfterFunc registered after the end")
}

func TestDeadlineCtx_ConcurrentWaitersAndCancel(t *testing.T) {
	for range 50 {
		c := withDeadline(context.Background(), time.Now().Add(time.Millisecond))
		cancel := c.cancel
		res := make(chan error, 4)
		for range 4 {
			go func() { <-c.Done(); res <- c.Err() }()
		}
		go cancel()
		for range 4 {
			select {
			case err := <-res:
				if err == nil {
					t.Fatal("Done closed with Err nil")
				}
			case <-time.After(time.Second):
				t.Fatal("a waiter was not released")
			}
		}
	}
}

func TestDeadlineCtx_CauseSeesThroughNestedBounds(t *testing.T) {
	p, pcancel := context.WithCancelCause(context.Background())
	outer := withDeadline(p, time.Now().Add(time.Minute))
	inner := withDeadline(outer, time.Now().Add(time.Minute))
	defer inner.cancel()
	outer.cancel()
	_ = inner.Err() // inner ends, from outer
	pcancel(errors.New("later, the caller's own reason"))
	// context.Cause(outer) would now be the caller's reason (found through Value),
	// though outer ended first, cancelled.
	if !errors.Is(inner.Err(), context.Canceled) || !errors.Is(cause(inner), context.Canceled) {
		t.Fatalf("inner Err %v cause %v, want Canceled from the outer bound", inner.Err(), cause(inner))
	}
}
