package store

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Run statistics: aggregates of the executions of one source (a definition, one
// definition version, a template), per user, kept by the record subscriber when an
// execution's terminal event arrives (CountRun), and read whole by the analytics
// routes (RunStats) — never computed by scanning executions. They hold numbers and
// node ids only, no conversation content, so deleting a conversation leaves
// nothing in them to redact.
//
// Durations are kept in a log-bucket histogram (HistBuckets buckets, see
// HistBucket): bucket 0 holds [0, 1 ms), bucket i in 1..HistBuckets-2 holds
// [2^((i-1)/4), 2^(i/4)) ms, so 1 ms to 2^20 ms (~17.5 min) in steps of ×2^(1/4)
// (~×1.19), and the last bucket everything from 2^20 ms on. A percentile is
// interpolated (geometrically) inside the bucket that holds the exact percentile,
// so the estimate lies in the same bucket as the true value: at most ~19% off
// between 1 ms and 2^20 ms, at most 1 ms off below 1 ms, and reported as the
// bucket's lower bound (2^20 ms) above.

// HistBuckets is the number of buckets of a Histogram.
const HistBuckets = 82

// histSteps is the number of buckets per doubling.
const histSteps = 4

// Histogram counts durations in log buckets (see HistBucket).
type Histogram [HistBuckets]int64

// HistBucket is the bucket of a duration of ms milliseconds.
func HistBucket(ms float64) int {
	if !(ms >= 1) { // also NaN and negatives
		return 0
	}
	if ms >= histTop {
		return HistBuckets - 1
	}
	i := min(max(int(math.Floor(math.Log2(ms)*histSteps))+1, 1), HistBuckets-2)
	// The logarithm rounds; the bounds decide.
	if lo, _ := HistBounds(i); ms < lo {
		i--
	} else if _, hi := HistBounds(i); ms >= hi {
		i++
	}
	return i
}

// histTop is where the last bucket begins: 2^20 ms.
var histTop = math.Exp2(float64(HistBuckets-2) / histSteps)

// HistBounds are the lower and upper bounds of bucket i in ms (the last bucket's
// upper bound is +Inf).
func HistBounds(i int) (lo, hi float64) {
	switch {
	case i <= 0:
		return 0, 1
	case i >= HistBuckets-1:
		return histTop, math.Inf(1)
	}
	return math.Exp2(float64(i-1) / histSteps), math.Exp2(float64(i) / histSteps)
}

// Add counts one duration.
func (h *Histogram) Add(ms float64) { h[HistBucket(ms)]++ }

// Count is the number of durations counted.
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 < q <= 1) by nearest rank: the duration at
// rank ceil(q·n) of the n counted, interpolated inside its bucket (geometrically
// from 1 ms on, linearly below, the lower bound in the last bucket). false when
// nothing was counted.
func (h *Histogram) Quantile(q float64) (float64, bool) {
	n := h.Count()
	if n == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(min(max(q, 0), 1) * float64(n)))
	rank = min(max(rank, 1), n)
	var below int64
	for i, c := range h {
		if c == 0 || below+c < rank {
			below += c
			continue
		}
		lo, hi := HistBounds(i)
		frac := float64(rank-below) / float64(c)
		switch {
		case i == 0:
			return lo + (hi-lo)*frac, true
		case i == HistBuckets-1:
			return lo, true
		}
		return lo * math.Pow(hi/lo, frac), true
	}
	return 0, false // not reached: the ranks add up to n
}

// RunSample is one finished execution as the aggregates count it.
type RunSample struct {
	Status                    string // ExecCompleted, ExecFailed or ExecCancelled
	DurationMS                float64
	InputTokens, OutputTokens int64
	Cost                      float64
	CostKnown                 bool
	// Nodes are the run's node visits per node, at most workflow.MaxNodes, ids
	// distinct (see NodeSample).
	Nodes []NodeSample
}

// NodeSample is what one run did at one node.
type NodeSample struct {
	NodeID   string
	Runs     int64 // visits (a node in a loop runs more than once)
	Failures int64 // visits that ended in an error
	Hist     Histogram
}

// MaxStatsNodeIDBytes caps a node id kept in an aggregate (display only: the
// aggregate tells nodes apart by the whole id).
const MaxStatsNodeIDBytes = 128

// StatsKey names one aggregate of a user's runs, and whether it keeps per-node
// numbers. Only aggregates of one fixed graph keep them (a definition version, a
// template, whose generated graph has a fixed set of node ids): their distinct
// nodes are then bounded by the graph's, at most workflow.MaxNodes, which bounds
// the item.
type StatsKey struct {
	Key   string
	Nodes bool
}

// DefinitionStatsKey names the aggregate of every version of a definition.
func DefinitionStatsKey(id string) string { return "DEF#" + id }

// DefinitionVersionStatsKey names the aggregate of one version of a definition.
func DefinitionVersionStatsKey(id string, version int) string {
	return "DEF#" + id + "#V#" + strconv.Itoa(version)
}

// TemplateStatsKey names the aggregate of a template (by its resolved id).
func TemplateStatsKey(id string) string { return "TPL#" + id }

// StatsKeys are the aggregates a run of src counts in: a definition's (every
// version together, no nodes) and its version's (with nodes), or a template's by
// its resolved id (with nodes). Dynamic and inline runs, and a source without an
// id, count nowhere (nil).
func StatsKeys(src SourceRef) []StatsKey {
	switch {
	case src.ID == "":
		return nil
	case src.Kind == "definition" && src.Version > 0:
		return []StatsKey{{Key: DefinitionStatsKey(src.ID)}, {Key: DefinitionVersionStatsKey(src.ID, src.Version), Nodes: true}}
	case src.Kind == "definition":
		return []StatsKey{{Key: DefinitionStatsKey(src.ID)}}
	case src.Kind == "template":
		return []StatsKey{{Key: TemplateStatsKey(src.ID), Nodes: true}}
	}
	return nil
}

// RunStats is one aggregate: the runs counted and their totals.
type RunStats struct {
	Key                          string
	Runs                         int64
	Completed, Failed, Cancelled int64
	DurationMSSum                float64
	Duration                     Histogram
	InputTokens, OutputTokens    int64
	Cost                         float64     // of the runs whose cost is known
	CostUnknown                  int64       // runs whose cost is not known
	Nodes                        []NodeStats // sorted by node id; empty unless the key keeps nodes
}

// NodeStats is one node's numbers in an aggregate.
type NodeStats struct {
	NodeID   string
	Runs     int64
	Failures int64
	Duration Histogram
}

// CheckRunSample rejects a sample the aggregates cannot keep.
func CheckRunSample(userID, execID string, keys []StatsKey, r *RunSample) error {
	switch {
	case userID == "":
		return Invalid("run stats: user_id is required")
	case execID == "":
		return Invalid("run stats: execution_id is required")
	case len(keys) == 0:
		return Invalid("run stats: no aggregate named")
	case !Terminal(r.Status):
		return Invalid("run stats: status %q is not final", r.Status)
	case len(r.Nodes) > workflow.MaxNodes:
		return Invalid("run stats: %d nodes; at most %d", len(r.Nodes), workflow.MaxNodes)
	}
	seen := map[string]bool{}
	for _, n := range r.Nodes {
		if n.NodeID == "" || seen[n.NodeID] {
			return Invalid("run stats: node_id %q empty or repeated", n.NodeID)
		}
		seen[n.NodeID] = true
	}
	for _, k := range keys {
		if k.Key == "" {
			return Invalid("run stats: empty aggregate key")
		}
	}
	return nil
}

// memStats is an aggregate of the memory store, its nodes by whole id.
type memStats struct {
	RunStats
	nodes map[string]*NodeStats
}

// add counts r into s (the memory store's aggregation; the DynamoDB store's ADDs
// do the same).
func (s *memStats) add(r *RunSample, nodes bool) {
	s.Runs++
	switch r.Status {
	case ExecCompleted:
		s.Completed++
	case ExecFailed:
		s.Failed++
	case ExecCancelled:
		s.Cancelled++
	}
	s.DurationMSSum += r.DurationMS
	s.Duration.Add(r.DurationMS)
	s.InputTokens += r.InputTokens
	s.OutputTokens += r.OutputTokens
	if r.CostKnown {
		s.Cost += r.Cost
	} else {
		s.CostUnknown++
	}
	if !nodes {
		return
	}
	if s.nodes == nil {
		s.nodes = map[string]*NodeStats{}
	}
	for _, n := range r.Nodes {
		ns := s.nodes[n.NodeID]
		if ns == nil {
			ns = &NodeStats{NodeID: text.Cut(n.NodeID, MaxStatsNodeIDBytes)}
			s.nodes[n.NodeID] = ns
		}
		ns.Runs += n.Runs
		ns.Failures += n.Failures
		for i, c := range n.Hist {
			ns.Duration[i] += c
		}
	}
}

func (s *memStats) read() RunStats {
	out := s.RunStats
	out.Nodes = nil
	for _, n := range s.nodes {
		out.Nodes = append(out.Nodes, *n)
	}
	SortNodeStats(out.Nodes)
	return out
}

// SortNodeStats puts nodes in the order RunStats keeps them: by node id.
func SortNodeStats(nodes []NodeStats) {
	slices.SortFunc(nodes, func(a, b NodeStats) int { return strings.Compare(a.NodeID, b.NodeID) })
}

// CountRun adds r to the aggregates keys of userID once per execution: the first
// call for execID adds it to all of them at once and returns true; every later
// call (a redelivered terminal event) changes nothing and returns false. Returns
// invalid for a sample CheckRunSample refuses.
func (m *Memory) CountRun(_ context.Context, userID, execID string, keys []StatsKey, r RunSample) (bool, error) {
	if err := CheckRunSample(userID, execID, keys, &r); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counted[ck(userID, execID)] {
		return false, nil
	}
	m.counted[ck(userID, execID)] = true
	for _, k := range keys {
		s := m.stats[ck(userID, k.Key)]
		if s == nil {
			s = &memStats{RunStats: RunStats{Key: k.Key}}
			m.stats[ck(userID, k.Key)] = s
		}
		s.add(&r, k.Nodes)
	}
	return true, nil
}

// RunStats returns userID's aggregates named keys, in order; one nothing was
// counted in is a zero RunStats with its Key.
func (m *Memory) RunStats(_ context.Context, userID string, keys ...string) ([]RunStats, error) {
	if userID == "" {
		return nil, Invalid("run stats: user_id is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RunStats, len(keys))
	for i, k := range keys {
		if s := m.stats[ck(userID, k)]; s != nil {
			out[i] = s.read()
		} else {
			out[i] = RunStats{Key: k}
		}
	}
	return out, nil
}
