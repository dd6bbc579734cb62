package executor

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is the run's own context.WithDeadline, whose timer starts only when
// something waits on it. Every run is bounded three times — the run (runContext),
// its final writes (finishContext) and a detached stream (detach) — and most of
// those bounds are never waited on: a node that computes, a store that answers from
// memory, a model stream already buffered. context.WithDeadline arms a runtime
// timer for each anyway (a clock read, a heap insert and a delete under the timers'
// lock, three allocations): a fifth of a short run's engine time. Here Done, a
// derived context (through AfterFunc) or context.AfterFunc arm the timer and hook
// the parent's cancellation; until then Err reads the clock and the parent, so the
// bound holds at every check, waited on or not. An HTTP call (a provider, DynamoDB)
// waits on Done and so pays what context.WithDeadline costs, no more.
//
// A detached bound (initDetached) keeps its caller's values and deadline, not its
// cancellation. context.Cause of a deadlineCtx is its Err unless its parent
// was cancelled with a cause, even after c ended for its own reason (the standard
// library finds causes through Value); the engine reads cause(ctx).
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu          sync.Mutex
	err         error    // set once: context.Canceled, DeadlineExceeded or the parent's
	parentCause bool     // err came from the parent: the cause is the parent's
	w           *waiters // made by the first waiter
}

// waiters is what an armed deadlineCtx keeps: apart, so that a bound nobody waits on
// stays small.
type waiters struct {
	done   chan struct{} // closed when err is set
	timer  *time.Timer
	unhook func() bool  // the parent's AfterFunc, when the parent can end
	afters []*afterFunc // AfterFunc's callbacks, run once err is set
}

type afterFunc struct{ f func() }

// withDeadline is context.WithDeadline(parent, d) without the timer until waited on;
// its cancel is its cancel method. d is a time the caller has read: none is read here.
func withDeadline(parent context.Context, d time.Time) *deadlineCtx {
	c := new(deadlineCtx)
	c.init(parent, d)
	return c
}

// init makes c, a zero deadlineCtx held in some larger allocation, withDeadline's.
func (c *deadlineCtx) init(parent context.Context, d time.Time) {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	c.parent, c.deadline = parent, d
}

// initDetached is init over context.WithoutCancel(ctx), bounded by ctx's deadline
// too (which WithoutCancel drops).
func (c *deadlineCtx) initDetached(ctx context.Context, d time.Time) {
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	c.init(context.WithoutCancel(ctx), d)
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

// Err is the reason c ended, checking the clock and the parent while nothing waits.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pollLocked()
	return c.err
}

// pollLocked ends an unarmed c whose parent or deadline has passed (an armed c hears
// of both from its timer and hook).
func (c *deadlineCtx) pollLocked() {
	if c.err != nil || c.w != nil {
		return
	}
	if err := c.parent.Err(); err != nil {
		c.endLocked(err, true)
		return
	}
	if time.Until(c.deadline) <= 0 { // the monotonic clock alone when d came from time.Now
		c.endLocked(context.DeadlineExceeded, false)
	}
}

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked()
	return c.w.done
}

// armLocked makes the done channel and, unless c has ended, starts the timer and
// hooks the parent's cancellation.
func (c *deadlineCtx) armLocked() {
	if c.w != nil {
		return
	}
	c.pollLocked() // before w exists, so an end here leaves the closing to us
	c.w = &waiters{done: make(chan struct{})}
	if c.err != nil {
		close(c.w.done)
		return
	}
	c.w.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded, false) })
	if c.parent.Done() != nil {
		p := c.parent
		c.w.unhook = context.AfterFunc(p, func() { c.end(p.Err(), true) })
	}
}

// AfterFunc makes c an afterFuncer, so contexts derived from it (context.WithCancel,
// WithTimeout, AfterFunc) hook into it instead of starting a goroutine each.
func (c *deadlineCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.w.afters = append(c.w.afters, a)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, b := range c.w.afters {
			if b == a {
				c.w.afters = append(c.w.afters[:i], c.w.afters[i+1:]...)
				return true
			}
		}
		return false // already run, or stopped before
	}
}

func (c *deadlineCtx) cancel() { c.end(context.Canceled, false) }

func (c *deadlineCtx) end(err error, fromParent bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err, fromParent)
}

// endLocked sets err once and, when armed, closes done, stops the timer and the
// parent's hook and starts the AfterFunc callbacks.
func (c *deadlineCtx) endLocked(err error, fromParent bool) {
	if c.err != nil {
		return
	}
	c.err, c.parentCause = err, fromParent
	w := c.w
	if w == nil {
		return
	}
	close(w.done)
	w.timer.Stop()
	if w.unhook != nil {
		w.unhook()
	}
	for _, a := range w.afters {
		go a.f()
	}
	w.afters = nil
}

// cause is context.Cause(ctx), seeing through a deadlineCtx.
func cause(ctx context.Context) error {
	c, ok := ctx.(*deadlineCtx)
	if !ok {
		return context.Cause(ctx)
	}
	c.mu.Lock()
	c.pollLocked()
	err, fromParent := c.err, c.parentCause
	c.mu.Unlock()
	if fromParent {
		return cause(c.parent) // set before the parent's Err, so set now
	}
	return err
}
