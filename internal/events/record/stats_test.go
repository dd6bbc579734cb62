package record_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// statsRepo is a repo whose run statistics can be read.
type statsRepo interface {
	repo
	RunStats(ctx context.Context, userID string, keys ...string) ([]store.RunStats, error)
}

func withDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deliver applies e as the subscriber receives it (round-tripped through the detail
// JSON).
func deliver(ctx context.Context, r repo, e events.Event) error {
	got, err := received(e)
	if err != nil {
		return err
	}
	return record.Apply(ctx, r, got)
}

// received is e as a subscriber receives it: through the detail JSON.
func received(e events.Event) (events.Event, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return events.Event{}, err
	}
	return events.Decode(events.Envelope{Source: events.Source, DetailType: e.Type, Detail: b})
}

// nodeLog is the node log the executor's FinishTurn leaves on the record.
var nodeLog = []store.NodeRun{
	{Step: 0, NodeID: "start", Kind: "start", Status: "ok", DurationMS: 0.01},
	{Step: 1, NodeID: "llm", Kind: "llm", Status: "ok", DurationMS: 2},
	{Step: 2, NodeID: "tools", Kind: "tools", Status: "error", DurationMS: 1},
	{Step: 3, NodeID: "llm", Kind: "llm", Status: "ok", DurationMS: 3},
	{Step: 4, NodeID: "end", Kind: "end", Status: "skipped"},
}

func TestSample_CountsVisitsFailuresAndDurationsPerNode(t *testing.T) {
	x := &store.Execution{Status: store.ExecFailed, DurationMS: 40, Cost: 0.5, CostKnown: true, Log: nodeLog}
	x.Usage.InputTokens, x.Usage.OutputTokens = 7, 3
	s := record.Sample(x)
	if s.Status != store.ExecFailed || s.DurationMS != 40 || s.InputTokens != 7 || s.OutputTokens != 3 || s.Cost != 0.5 || !s.CostKnown {
		t.Fatalf("totals = %+v", s)
	}
	want := []struct {
		id          string
		runs, fails int64
		buckets     map[int]int64
	}{
		{"start", 1, 0, map[int]int64{0: 1}},
		{"llm", 2, 0, map[int]int64{store.HistBucket(2): 1, store.HistBucket(3): 1}},
		{"tools", 1, 1, map[int]int64{store.HistBucket(1): 1}},
	}
	if len(s.Nodes) != len(want) {
		t.Fatalf("nodes = %+v, want %d (skipped visits do not count)", s.Nodes, len(want))
	}
	for i, w := range want {
		n := s.Nodes[i]
		if n.NodeID != w.id || n.Runs != w.runs || n.Failures != w.fails || n.Hist.Count() != w.runs {
			t.Errorf("node %d = %+v, want %s runs %d failures %d", i, n, w.id, w.runs, w.fails)
		}
		for b, c := range w.buckets {
			if n.Hist[b] != c {
				t.Errorf("node %s bucket %d = %d, want %d", w.id, b, n.Hist[b], c)
			}
		}
	}
}

// What a terminal event counts, and where: definitions in their own and their
// version's aggregate, templates by resolved id; dynamic and inline runs, rejected
// requests and executions never stored count nowhere; redeliveries and a late
// terminal event of another kind count nothing more.
func TestApply_TerminalEventCountsTheRunOnceInItsSourcesStats(t *testing.T) {
	def, tpl := store.DefinitionStatsKey("d1"), store.TemplateStatsKey("general_chat")
	v2, v1 := store.DefinitionVersionStatsKey("d1", 2), store.DefinitionVersionStatsKey("d1", 1)
	failed := events.ExecutionEndData{Status: "failed", DurationMS: 900, ErrorCode: "llm_error", Usage: wire.Usage{InputTokens: 3}}
	cases := []struct {
		name      string
		src       store.SourceRef
		stored    bool // the execution record exists
		terminals []events.ExecutionEndData
		types     []string
		// want: per key, runs, completed, failed, nodes
		want map[string][4]int64
	}{
		{"template completed, delivered three times", store.SourceRef{Kind: "template", ID: "general_chat", Name: "general_chat"}, true,
			[]events.ExecutionEndData{completed, completed, completed}, []string{events.ExecutionCompleted, events.ExecutionCompleted, events.ExecutionCompleted},
			map[string][4]int64{tpl: {1, 1, 0, 3}, def: {}}},
		{"definition version 2 failed, then a late completed", store.SourceRef{Kind: "definition", ID: "d1", Version: 2}, true,
			[]events.ExecutionEndData{failed, completed}, []string{events.ExecutionFailed, events.ExecutionCompleted},
			map[string][4]int64{def: {1, 0, 1, 0}, v2: {1, 0, 1, 3}, v1: {}, tpl: {}}},
		{"dynamic", store.SourceRef{Kind: "dynamic", Name: "universal_chat"}, true,
			[]events.ExecutionEndData{completed}, []string{events.ExecutionCompleted}, map[string][4]int64{tpl: {}}},
		{"inline", store.SourceRef{Kind: "inline"}, true,
			[]events.ExecutionEndData{completed}, []string{events.ExecutionCompleted}, map[string][4]int64{def: {}}},
		{"rejected at preparation", store.SourceRef{Kind: "template", ID: "general_chat"}, false,
			[]events.ExecutionEndData{{Status: "failed", ErrorCode: "template_not_found", Rejected: true}}, []string{events.ExecutionFailed},
			map[string][4]int64{tpl: {}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachRepo(t, func(t *testing.T, r repo) {
				ctx := withDeadline(t)
				sr := r.(statsRepo)
				if tc.stored {
					if err := r.CreateExecution(ctx, &store.Execution{ID: "x", UserID: "u1", ConversationID: "c1", Source: tc.src,
						Mode: "standard", Status: store.ExecRunning, StartedAt: t0, Log: nodeLog}); err != nil {
						t.Fatal(err)
					}
				}
				for i, end := range tc.terminals {
					e := chatTrail("x", tc.types[i], end)
					last := e[len(e)-1] // the same type again is the same event, redelivered
					if tc.types[i] != tc.types[0] {
						last.ID += "-late" // another terminal event
					}
					last.Source = events.SourceRef{Kind: tc.src.Kind, ID: tc.src.ID, Version: tc.src.Version}
					if err := deliver(ctx, r, last); err != nil {
						t.Fatalf("delivery %d: %v", i, err)
					}
				}
				for k, w := range tc.want {
					got, err := sr.RunStats(ctx, "u1", k)
					if err != nil {
						t.Fatal(err)
					}
					g := got[0]
					if g.Runs != w[0] || g.Completed != w[1] || g.Failed != w[2] || int64(len(g.Nodes)) != w[3] {
						t.Errorf("%s: runs %d completed %d failed %d nodes %d, want %v", k, g.Runs, g.Completed, g.Failed, len(g.Nodes), w)
					}
					if w[0] == 1 && w[1] == 1 && (g.InputTokens != 30 || g.OutputTokens != 10 || g.Cost != 0.0012 || g.DurationMSSum != 15.5) {
						t.Errorf("%s: totals %+v, want the completed run's", k, g)
					}
					if w[0] == 1 && w[2] == 1 && (g.InputTokens != 3 || g.DurationMSSum != 900 || g.CostUnknown != 1) {
						t.Errorf("%s: totals %+v, want the failed run's (the first terminal event wins)", k, g)
					}
				}
				// Nobody else's numbers moved.
				if got, err := sr.RunStats(ctx, "u2", tpl, def); err != nil || got[0].Runs != 0 || got[1].Runs != 0 {
					t.Errorf("another user's stats: %+v, %v", got, err)
				}
			})
		})
	}
}

// The same terminal event delivered by several subscriber instances at once counts
// the run once.
func TestApply_ConcurrentTerminalDeliveriesCountOnce(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		ctx := withDeadline(t)
		if err := r.CreateExecution(ctx, &store.Execution{ID: "y", UserID: "u1", ConversationID: "c1",
			Source: store.SourceRef{Kind: "template", ID: "general_chat"}, Mode: "standard", Status: store.ExecRunning,
			StartedAt: t0, Log: nodeLog}); err != nil {
			t.Fatal(err)
		}
		e := chatTrail("y", events.ExecutionCompleted, completed)
		last := e[len(e)-1]
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- deliver(ctx, r, last)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent delivery: %v", err)
			}
		}
		got, err := r.(statsRepo).RunStats(ctx, "u1", store.TemplateStatsKey("general_chat"))
		if err != nil {
			t.Fatal(err)
		}
		if g := got[0]; g.Runs != 1 || g.Completed != 1 || len(g.Nodes) != 3 || g.Nodes[0].NodeID != "llm" || g.Nodes[0].Runs != 2 {
			t.Fatalf("stats after 6 concurrent deliveries: %+v", g)
		}
	})
}
