package record

import (
	"context"
	"fmt"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Counter is the store method the run statistics need (store.Memory and the
// DynamoDB store have it): add a finished execution to aggregates, once per
// execution id.
type Counter interface {
	CountRun(ctx context.Context, userID, execID string, keys []store.StatsKey, r store.RunSample) (bool, error)
}

// Sample is what the run statistics count of a finished execution x: its status
// and totals as stored (the first terminal event's, the one that won), and per node
// of its log the visits, the failed ones (status error) and their durations;
// skipped visits do not count. At most workflow.MaxNodes distinct nodes are kept
// (a compiled graph has no more), in the order they first ran.
func Sample(x *store.Execution) store.RunSample {
	r := store.RunSample{Status: x.Status, DurationMS: x.DurationMS, InputTokens: int64(x.Usage.InputTokens),
		OutputTokens: int64(x.Usage.OutputTokens), Cost: x.Cost, CostKnown: x.CostKnown}
	index := map[string]int{}
	for _, n := range x.Log {
		if n.Status == "skipped" || n.NodeID == "" {
			continue
		}
		i, ok := index[n.NodeID]
		if !ok {
			if len(r.Nodes) == workflow.MaxNodes {
				continue
			}
			i = len(r.Nodes)
			index[n.NodeID] = i
			r.Nodes = append(r.Nodes, store.NodeSample{NodeID: n.NodeID})
		}
		ns := &r.Nodes[i]
		ns.Runs++
		if n.Status == "error" {
			ns.Failures++
		}
		ns.Hist.Add(n.DurationMS)
	}
	return r
}

// count adds the finished execution x to its source's aggregates
// (store.StatsKeys), once however often its terminal event arrives.
func count(ctx context.Context, c Counter, x *store.Execution) error {
	keys := store.StatsKeys(x.Source)
	if len(keys) == 0 || !store.Terminal(x.Status) {
		return nil
	}
	if _, err := c.CountRun(ctx, x.UserID, x.ID, keys, Sample(x)); err != nil {
		return fmt.Errorf("record: counting execution %s: %w", x.ID, err)
	}
	return nil
}
