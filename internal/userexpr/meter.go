package userexpr

import (
	"context"
	"fmt"
	"time"
)

// clockEvery is how many steps pass between two looks at the context and the clock:
// often enough to stop within microseconds of a cancellation, rare enough that the
// look costs nothing measurable per step.
const clockEvery = 64

// Meter is one evaluation's account of its budgets. Functions receive it to Charge
// what they are about to allocate.
type Meter struct {
	ctx    context.Context
	limits *Limits
	steps  int
	bytes  int
	start  time.Time // set at the first look at the clock
}

// step counts one closure iteration or function call and, every clockEvery steps,
// looks at the context and the clock. The clock starts at the first look, so short
// evaluations never read it: what an expression does before is bounded by its size
// and clockEvery steps.
func (m *Meter) step() error {
	m.steps++
	if m.steps > m.limits.Steps {
		return &BudgetError{Budget: BudgetSteps, Limit: fmt.Sprintf("%d steps", m.limits.Steps)}
	}
	if m.steps%clockEvery != 0 {
		return nil
	}
	if err := m.ctx.Err(); err != nil {
		return &stopped{err: err}
	}
	now := time.Now()
	if m.start.IsZero() {
		m.start = now
		return nil
	}
	if now.Sub(m.start) > m.limits.Time {
		return &BudgetError{Budget: BudgetTime, Limit: m.limits.Time.String()}
	}
	return nil
}

// Charge accounts n bytes the caller is about to allocate; it fails, before the
// allocation, when the evaluation's byte budget would be exceeded.
func (m *Meter) Charge(n int) error {
	if n < 0 || n > m.limits.Bytes-m.bytes {
		return &BudgetError{Budget: BudgetBytes, Limit: byteSize(m.limits.Bytes)}
	}
	m.bytes += n
	return nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// stopped is an evaluation stopped by its context (the run was cancelled or timed
// out): not the expression's fault, so not a BudgetError.
type stopped struct{ err error }

func (s *stopped) Error() string { return "evaluation stopped: " + s.err.Error() }
func (s *stopped) Unwrap() error { return s.err }
