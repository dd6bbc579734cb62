package storetest

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

func statsCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func sample(status string, ms float64, in, out int64, cost float64, known bool, nodes ...store.NodeSample) store.RunSample {
	return store.RunSample{Status: status, DurationMS: ms, InputTokens: in, OutputTokens: out, Cost: cost, CostKnown: known, Nodes: nodes}
}

func nodeSample(id string, fails int64, ms ...float64) store.NodeSample {
	n := store.NodeSample{NodeID: id, Runs: int64(len(ms)), Failures: fails}
	for _, d := range ms {
		n.Hist.Add(d)
	}
	return n
}

// wantStats compares an aggregate with what the samples add up to, computed here
// independently of the store.
func wantStats(t *testing.T, got store.RunStats, samples []store.RunSample, nodes bool) {
	t.Helper()
	var want store.RunStats
	wantNodes := map[string]*store.NodeStats{}
	for _, s := range samples {
		want.Runs++
		switch s.Status {
		case store.ExecCompleted:
			want.Completed++
		case store.ExecFailed:
			want.Failed++
		case store.ExecCancelled:
			want.Cancelled++
		}
		want.DurationMSSum += s.DurationMS
		want.Duration[store.HistBucket(s.DurationMS)]++
		want.InputTokens += s.InputTokens
		want.OutputTokens += s.OutputTokens
		if s.CostKnown {
			want.Cost += s.Cost
		} else {
			want.CostUnknown++
		}
		for _, n := range s.Nodes {
			w := wantNodes[n.NodeID]
			if w == nil {
				w = &store.NodeStats{NodeID: n.NodeID}
				wantNodes[n.NodeID] = w
			}
			w.Runs += n.Runs
			w.Failures += n.Failures
			for i, c := range n.Hist {
				w.Duration[i] += c
			}
		}
	}
	if got.Runs != want.Runs || got.Completed != want.Completed || got.Failed != want.Failed || got.Cancelled != want.Cancelled ||
		got.InputTokens != want.InputTokens || got.OutputTokens != want.OutputTokens || got.CostUnknown != want.CostUnknown ||
		math.Abs(got.DurationMSSum-want.DurationMSSum) > 1e-6 || math.Abs(got.Cost-want.Cost) > 1e-9 || got.Duration != want.Duration {
		t.Fatalf("aggregate %s:\n got %+v\nwant %+v", got.Key, got, want)
	}
	if !nodes {
		if len(got.Nodes) != 0 {
			t.Fatalf("aggregate %s keeps nodes it was not asked to: %+v", got.Key, got.Nodes)
		}
		return
	}
	if len(got.Nodes) != len(wantNodes) {
		t.Fatalf("aggregate %s: %d nodes, want %d", got.Key, len(got.Nodes), len(wantNodes))
	}
	for i, n := range got.Nodes {
		if i > 0 && got.Nodes[i-1].NodeID >= n.NodeID {
			t.Fatalf("nodes not sorted by id: %q before %q", got.Nodes[i-1].NodeID, n.NodeID)
		}
		w := wantNodes[n.NodeID]
		if w == nil || *w != n {
			t.Fatalf("node %q: got %+v, want %+v", n.NodeID, n, w)
		}
	}
}

// testRunStatsCountedOnce: each execution is added once to every aggregate named,
// whatever the number of deliveries; nodes only where asked; per user.
func testRunStatsCountedOnce(t *testing.T, r Repo, _ *Clock) {
	cx := statsCtx(t)
	user, other := uid("u"), uid("u")
	all, ver := store.DefinitionStatsKey(uid("def")), store.DefinitionVersionStatsKey(uid("def"), 3)
	keys := []store.StatsKey{{Key: all}, {Key: ver, Nodes: true}}
	samples := []store.RunSample{
		sample(store.ExecCompleted, 120.5, 10, 20, 0.002, true, nodeSample("start", 0, 0.01), nodeSample("llm", 0, 118)),
		sample(store.ExecFailed, 3400, 5, 0, 0, true, nodeSample("start", 0, 0.02), nodeSample("llm", 1, 3390)),
		sample(store.ExecCancelled, 0.4, 0, 0, 0, false, nodeSample("start", 0, 0.2)),
		sample(store.ExecCompleted, 2_000_000, 7, 9, 1.25, true, nodeSample("llm", 0, 900, 1_000_000), nodeSample("tools", 2, 12, 13)),
	}
	for i, s := range samples {
		exec := "e" + strconv.Itoa(i)
		first, err := r.CountRun(cx, user, exec, keys, s)
		if err != nil || !first {
			t.Fatalf("CountRun %s: %v, %v; want first", exec, first, err)
		}
		for range 2 { // redeliveries
			again, err := r.CountRun(cx, user, exec, keys, s)
			if err != nil || again {
				t.Fatalf("CountRun %s again: %v, %v; want not first", exec, again, err)
			}
		}
	}
	got, err := r.RunStats(cx, user, all, ver, store.TemplateStatsKey("general_chat"))
	must(t, "RunStats", err)
	if len(got) != 3 || got[0].Key != all || got[1].Key != ver {
		t.Fatalf("RunStats answered %+v", got)
	}
	wantStats(t, got[0], samples, false)
	wantStats(t, got[1], samples, true)
	wantStats(t, got[2], nil, false)

	// Another user's reads find nothing; the same execution id under another user
	// is another execution.
	theirs, err := r.RunStats(cx, other, all, ver)
	must(t, "RunStats of another user", err)
	wantStats(t, theirs[0], nil, false)
	wantStats(t, theirs[1], nil, true)
	first, err := r.CountRun(cx, other, "e0", keys, samples[0])
	if err != nil || !first {
		t.Fatalf("CountRun of another user's e0: %v, %v", first, err)
	}
}

// testRunStatsConcurrent: terminal events of one execution delivered at once count
// it once; distinct executions at once all count.
func testRunStatsConcurrent(t *testing.T, r Repo, _ *Clock) {
	cx := statsCtx(t)
	user, k := uid("u"), store.TemplateStatsKey(uid("tpl"))
	keys := []store.StatsKey{{Key: k, Nodes: true}}
	const execs, copies = 4, 4
	var mu sync.Mutex
	firsts := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, execs*copies)
	var samples []store.RunSample
	for e := range execs {
		s := sample(store.ExecCompleted, float64(10*(e+1)), 1, 2, 0.5, true, nodeSample("llm", 0, float64(e+1)))
		samples = append(samples, s)
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, err := r.CountRun(cx, user, "x"+strconv.Itoa(e), keys, s)
				if err != nil {
					errs <- err
					return
				}
				if first {
					mu.Lock()
					firsts["x"+strconv.Itoa(e)]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent CountRun: %v", err)
	}
	for e := range execs {
		if n := firsts["x"+strconv.Itoa(e)]; n != 1 {
			t.Fatalf("execution x%d reported first %d times, want once", e, n)
		}
	}
	got, err := r.RunStats(cx, user, k)
	must(t, "RunStats", err)
	wantStats(t, got[0], samples, true)
}

// testRunStatsManyNodes: a run of workflow.MaxNodes nodes, each with several
// durations, is counted whole and once (the DynamoDB store writes it in parts).
func testRunStatsManyNodes(t *testing.T, r Repo, _ *Clock) {
	cx := statsCtx(t)
	user, k := uid("u"), store.DefinitionVersionStatsKey(uid("def"), 1)
	var nodes []store.NodeSample
	for i := range workflow.MaxNodes {
		nodes = append(nodes, nodeSample("node-"+strconv.Itoa(i), int64(i%2), 1, 10, 100, 1000, float64(i+1)))
	}
	s := sample(store.ExecFailed, 5000, 1, 1, 0, false, nodes...)
	keys := []store.StatsKey{{Key: k, Nodes: true}, {Key: store.DefinitionStatsKey(uid("def"))}}
	for i := range 2 {
		first, err := r.CountRun(cx, user, "big", keys, s)
		if err != nil || first != (i == 0) {
			t.Fatalf("CountRun delivery %d: %v, %v", i, first, err)
		}
	}
	got, err := r.RunStats(cx, user, k)
	must(t, "RunStats", err)
	wantStats(t, got[0], []store.RunSample{s}, true)
}

// testRunStatsInvalid: a sample the aggregates cannot keep is invalid and counts
// nothing (the execution can still be counted right later).
func testRunStatsInvalid(t *testing.T, r Repo, _ *Clock) {
	cx := statsCtx(t)
	user, k := uid("u"), store.TemplateStatsKey(uid("tpl"))
	keys := []store.StatsKey{{Key: k, Nodes: true}}
	many := make([]store.NodeSample, workflow.MaxNodes+1)
	for i := range many {
		many[i] = nodeSample("n"+strconv.Itoa(i), 0, 1)
	}
	for name, tc := range map[string]struct {
		user, exec string
		keys       []store.StatsKey
		s          store.RunSample
	}{
		"running status":  {user, "e", keys, sample(store.ExecRunning, 1, 0, 0, 0, true)},
		"too many nodes":  {user, "e", keys, sample(store.ExecCompleted, 1, 0, 0, 0, true, many...)},
		"repeated node":   {user, "e", keys, sample(store.ExecCompleted, 1, 0, 0, 0, true, nodeSample("a", 0, 1), nodeSample("a", 0, 1))},
		"no user":         {"", "e", keys, sample(store.ExecCompleted, 1, 0, 0, 0, true)},
		"no execution id": {user, "", keys, sample(store.ExecCompleted, 1, 0, 0, 0, true)},
		"no aggregate":    {user, "e", nil, sample(store.ExecCompleted, 1, 0, 0, 0, true)},
	} {
		_, err := r.CountRun(cx, tc.user, tc.exec, tc.keys, tc.s)
		wantCode(t, name, err, errcode.InvalidInput)
	}
	ok := sample(store.ExecCompleted, 1, 0, 0, 0, true, nodeSample("a", 0, 1))
	first, err := r.CountRun(cx, user, "e", keys, ok)
	if err != nil || !first {
		t.Fatalf("CountRun after refused ones: %v, %v", first, err)
	}
	got, err := r.RunStats(cx, user, k)
	must(t, "RunStats", err)
	wantStats(t, got[0], []store.RunSample{ok}, true)
}
