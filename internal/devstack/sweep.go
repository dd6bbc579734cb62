package devstack

import (
	"context"
	"log/slog"
	"time"
)

// SweepPeriod is how often the dev stack sweeps overdue runs (a deployed stage
// sweeps once a minute, template.yaml's SweeperFunction): a run left running by a
// stack killed mid-run ends within its deadline plus this once the stack is back.
const SweepPeriod = 5 * time.Second

// SweepEvery calls sweep at once and then every period until ctx ends, as the
// scheduled sweeper Lambda is invoked. A failed sweep is logged; the next one
// tries again.
func SweepEvery(ctx context.Context, period time.Duration, sweep func(context.Context) error, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := sweep(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
