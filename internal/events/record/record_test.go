package record_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"pgregory.net/rapid"

	chatter "github.com/chatterhq/chatter"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/wire"
)

// repo is what these tests need of a store: record.Repo plus reads and creation.
type repo interface {
	record.Repo
	CreateExecution(ctx context.Context, e *store.Execution) error
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error)
}

// implementations lists every Repo the suite runs against.
var implementations = map[string]func(t testing.TB) repo{
	"memory": func(testing.TB) repo { return store.NewMemory() },
	"dynamo": func(t testing.TB) repo {
		db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
		table := fmt.Sprintf("record-test-%d", tables.Add(1)) // a table per test: fixed ids never collide, even with -count
		if err := dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, table); err != nil {
			t.Fatal(err)
		}
		return dynamo.New(db, table, dynamo.Options{})
	},
}

var tables atomic.Int64

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	_ record.Repo = (*store.Memory)(nil)
	_ record.Repo = (*dynamo.Store)(nil)
)

// tb is what the helpers need of *testing.T and *rapid.T alike.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// running stores the execution as the executor's StartTurn leaves it.
func running(t tb, r repo, id string) {
	t.Helper()
	err := r.CreateExecution(context.Background(), &store.Execution{ID: id, UserID: "u1", ConversationID: "c1",
		Source: store.SourceRef{Kind: "template", ID: "general_chat"}, Mode: "standard", Status: store.ExecRunning, StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
}

// chatTrail is the events of a general_chat run with one tool call, ending in
// terminal with end's totals.
func chatTrail(execID, terminal string, end events.ExecutionEndData) []events.Event {
	var evs []events.Event
	add := func(typ string, data any) {
		n := len(evs) + 1
		evs = append(evs, events.Event{ID: fmt.Sprintf("%s-%02d", execID, n), Version: events.SchemaVersion, Type: typ,
			ExecutionID: execID, UserID: "u1", ConversationID: "c1", Source: events.SourceRef{Kind: "template", ID: "general_chat"},
			Seq: n, Time: t0.Add(time.Duration(n) * time.Millisecond), Data: data})
	}
	add(events.WorkflowStarted, events.WorkflowStartedData{Mode: "standard", Nodes: 4})
	add(events.ToolsLoaded, events.ToolsLoadedData{Tools: []string{"calculator"}})
	add(events.LLMLoaded, events.LLMLoadedData{Provider: "devllm", Model: "echo"})
	add(events.MessageSaved, events.MessageSavedData{MessageID: "m1", Role: "user", Seq: 1, Status: "complete"})
	add(events.ExecutionStarted, nil)
	add(events.TokenUsage, events.TokenUsageData{NodeID: "llm", Provider: "devllm", Model: "echo", Usage: wire.Usage{InputTokens: 10, OutputTokens: 4}})
	add(events.NodeExecuted, events.NodeExecutedData{NodeID: "llm", Kind: "llm", Step: 1, Status: "ok", DurationMS: 2})
	add(events.ToolCalled, events.ToolCalledData{NodeID: "tools", CallID: "call_1", Tool: "calculator"})
	add(events.NodeExecuted, events.NodeExecutedData{NodeID: "tools", Kind: "tools", Step: 2, Status: "ok", DurationMS: 1})
	add(events.TokenUsage, events.TokenUsageData{NodeID: "llm", Provider: "devllm", Model: "echo", Usage: wire.Usage{InputTokens: 20, OutputTokens: 6}})
	add(events.NodeExecuted, events.NodeExecutedData{NodeID: "llm", Kind: "llm", Step: 3, Status: "ok", DurationMS: 2})
	add(events.MessageSaved, events.MessageSavedData{MessageID: "m2", Role: "assistant", Seq: 2, Status: "complete"})
	add(terminal, end)
	return evs
}

var completed = events.ExecutionEndData{Status: "completed", DurationMS: 15.5, ToolCalls: 1, Steps: 3, Provider: "devllm", Model: "echo", Output: "The calculator tool returned: 4.", Usage: wire.Usage{InputTokens: 30, OutputTokens: 10, TotalTokens: 40, Cost: 0.0012, CostKnown: true}}

func applyAll(t tb, r repo, evs []events.Event) {
	t.Helper()
	for _, e := range evs {
		// What arrives is what was published: round-trip through the detail JSON.
		got, err := received(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := record.Apply(context.Background(), r, got); err != nil {
			t.Fatalf("Apply %s: %v", e.Type, err)
		}
	}
}

// state is what a reader sees: the record and the whole log.
func state(t tb, r repo, id string) (*store.Execution, []store.ExecutionEvent) {
	t.Helper()
	x, err := r.GetExecution(context.Background(), "u1", id)
	if err != nil {
		t.Fatal(err)
	}
	var log []store.ExecutionEvent
	p := store.PageRequest{Limit: store.MaxPageSize}
	for {
		page, err := r.ListEvents(context.Background(), "u1", id, p)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, page.Items...)
		if page.Next == "" {
			return x, log
		}
		p.Cursor = page.Next
	}
}

func eachRepo(t *testing.T, f func(t *testing.T, r repo)) {
	for name, mk := range implementations {
		t.Run(name, func(t *testing.T) { f(t, mk(t)) })
	}
}

// isMemory tells the in-memory repo, where a property test's hundreds of runs are
// cheap, from moto's.
func isMemory(r repo) bool { _, ok := r.(*store.Memory); return ok }

func TestApply_CompletedRunSetsTotalsAndOrderedLog(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x1")
		evs := chatTrail("x1", events.ExecutionCompleted, completed)
		applyAll(t, r, evs)
		x, log := state(t, r, "x1")
		if x.Status != store.ExecCompleted || x.Usage.InputTokens != 30 || x.Usage.OutputTokens != 10 || x.Cost != 0.0012 ||
			!x.CostKnown || x.ToolCalls != 1 || x.Steps != 3 || x.DurationMS != 15.5 || x.Output != completed.Output ||
			!x.FinishedAt.Equal(evs[len(evs)-1].Time) || x.Provider != "devllm" {
			t.Fatalf("record = %+v", x)
		}
		if len(log) != len(evs) {
			t.Fatalf("log has %d events, want %d", len(log), len(evs))
		}
		for i, ev := range log {
			if ev.Seq != i+1 || ev.ID != evs[i].ID || ev.Type != evs[i].Type || !ev.Time.Equal(evs[i].Time) {
				t.Errorf("log[%d] = %+v, want seq %d %s", i, ev, i+1, evs[i].Type)
			}
		}
		var end events.ExecutionEndData
		if err := json.Unmarshal(log[len(log)-1].Data, &end); err != nil || end.TotalTokens != 40 || end.Output != "" {
			t.Errorf("terminal log data = %s (%v), want totals without the output", log[len(log)-1].Data, err)
		}
	})
}

func TestApply_FailedRunKeepsErrorCode(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x2")
		evs := chatTrail("x2", events.ExecutionFailed, events.ExecutionEndData{Status: "failed", ErrorCode: "llm_error",
			ErrorMessage: "the model call failed", Steps: 1})
		applyAll(t, r, evs)
		x, _ := state(t, r, "x2")
		if x.Status != store.ExecFailed || x.ErrorCode != "llm_error" || x.ErrorMessage != "the model call failed" {
			t.Fatalf("record = %+v", x)
		}
	})
}

func TestApply_DuplicatesAndAnyOrderGiveTheSameState(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "ref")
		ref := chatTrail("ref", events.ExecutionCompleted, completed)
		applyAll(t, r, ref)
		wantX, wantLog := state(t, r, "ref")
		n := 0
		check := rapid.Check
		if !isMemory(r) {
			check = func(rapid.TB, func(*rapid.T)) {} // the fixed cases below run on moto
		}
		check(t, func(rt *rapid.T) {
			n++
			id := fmt.Sprintf("p%d", n)
			running(rt, r, id)
			evs := chatTrail(id, events.ExecutionCompleted, completed)
			// Every event at least once, some twice or more, in any order.
			order := rapid.Permutation(append(slices.Clone(evs),
				rapid.SliceOfN(rapid.SampledFrom(evs), 0, 2*len(evs)).Draw(rt, "again")...)).Draw(rt, "order")
			applyAll(rt, r, order)
			gotX, gotLog := state(rt, r, id)
			compare(rt, id, wantX, wantLog, gotX, gotLog)
		})
		for _, tc := range []struct {
			name  string
			order func([]events.Event) []events.Event
		}{
			{"each twice", func(e []events.Event) []events.Event {
				var out []events.Event
				for _, x := range e {
					out = append(out, x, x)
				}
				return out
			}},
			{"reversed", func(e []events.Event) []events.Event { out := slices.Clone(e); slices.Reverse(out); return out }},
			{"reversed, twice", func(e []events.Event) []events.Event {
				out := slices.Clone(e)
				slices.Reverse(out)
				return append(out, out...)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "case-" + tc.name
				running(t, r, id)
				applyAll(t, r, tc.order(chatTrail(id, events.ExecutionCompleted, completed)))
				gotX, gotLog := state(t, r, id)
				compare(t, id, wantX, wantLog, gotX, gotLog)
			})
		}
	})
}

// compare checks that an execution reached the reference state, ids aside.
func compare(t rapid.TB, id string, wantX *store.Execution, wantLog []store.ExecutionEvent, gotX *store.Execution, gotLog []store.ExecutionEvent) {
	w := *wantX
	w.ID = id
	if !reflect.DeepEqual(&w, gotX) {
		t.Fatalf("record\n got %+v\nwant %+v", gotX, &w)
	}
	if len(gotLog) != len(wantLog) {
		t.Fatalf("log has %d events, want %d", len(gotLog), len(wantLog))
	}
	for i := range gotLog {
		g, w := gotLog[i], wantLog[i]
		if g.Seq != w.Seq || g.Type != w.Type || !g.Time.Equal(w.Time) || string(g.Data) != string(w.Data) || g.ExecutionID != id {
			t.Fatalf("log[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func TestApply_StatusOnlyMovesForward(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x3")
		done := chatTrail("x3", events.ExecutionCompleted, completed)
		applyAll(t, r, done)
		before, _ := state(t, r, "x3")
		late := chatTrail("x3", events.ExecutionFailed, events.ExecutionEndData{Status: "failed", ErrorCode: "internal"})
		late[len(late)-1].ID = "x3-other-terminal"
		applyAll(t, r, late[len(late)-1:])
		after, _ := state(t, r, "x3")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("a second terminal event changed the record:\n%+v\n%+v", before, after)
		}
	})
}

func TestApply_KeepsWhatTheExecutorStored(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x4")
		// The executor's FinishTurn already stored the full record.
		finished := t0.Add(time.Second)
		_, err := r.UpdateExecution(context.Background(), "u1", "x4", func(x *store.Execution) error {
			x.Status, x.FinishedAt, x.Output = store.ExecCompleted, finished, "the whole long reply"
			x.Usage = llm.Usage{InputTokens: 30, OutputTokens: 10, CacheReadTokens: 7}
			x.Log = []store.NodeRun{{Step: 1, NodeID: "llm", Kind: "llm", Status: "ok"}}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		end := completed
		end.Output = "the whole" // shortened to fit the event
		applyAll(t, r, chatTrail("x4", events.ExecutionCompleted, end))
		x, _ := state(t, r, "x4")
		if x.Output != "the whole long reply" || x.Usage.CacheReadTokens != 7 || len(x.Log) != 1 || !x.FinishedAt.Equal(finished) {
			t.Fatalf("record lost what the executor stored: %+v", x)
		}
		if x.ToolCalls != 1 || x.Cost != completed.Cost {
			t.Fatalf("totals not set: %+v", x)
		}
	})
}

func TestApply_NothingToKeepIsNotAnError(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		failed := chatTrail("never-stored", events.ExecutionFailed, events.ExecutionEndData{Status: "failed", ErrorCode: "not_found"})
		// A run that failed preparation: no record was created.
		if err := record.Apply(context.Background(), r, failed[len(failed)-1]); err != nil {
			t.Fatalf("Apply = %v, want nil", err)
		}
		anon := failed[0]
		anon.UserID = ""
		if err := record.Apply(context.Background(), r, anon); err != nil {
			t.Fatalf("Apply without user = %v, want nil", err)
		}
		if _, err := r.GetExecution(context.Background(), "u1", "never-stored"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetExecution = %v, want not_found (no record is invented)", err)
		}
	})
}

// failingRepo fails every write, as a table that is down would.
type failingRepo struct{ err error }

func (f failingRepo) UpdateExecution(context.Context, string, string, func(*store.Execution) error) (*store.Execution, error) {
	return nil, f.err
}

func (f failingRepo) AppendEvents(context.Context, string, string, []store.ExecutionEvent) error {
	return f.err
}

func (f failingRepo) CountRun(context.Context, string, string, []store.StatsKey, store.RunSample) (bool, error) {
	return false, f.err
}

func TestApply_StorageErrorsAskForRedelivery(t *testing.T) {
	down := errors.New("table unavailable")
	e := chatTrail("x5", events.ExecutionCompleted, completed)
	for _, ev := range []events.Event{e[0], e[len(e)-1]} {
		err := record.Handler(failingRepo{down})(context.Background(), ev)
		if !errors.Is(err, down) {
			t.Errorf("%s: err = %v, want the storage error", ev.Type, err)
		}
	}
}

// Events larger than any item (the executor's fallback hands them over as they are,
// and a node's error can be long) are fitted, not refused: the first delivery and
// every redelivery land, and the record and log hold marked prefixes.
func TestApply_OversizeEventsLandOnEveryDelivery(t *testing.T) {
	long := func(n int) string { return strings.Repeat(`<"é`, n/4) }
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x-big")
		end := events.ExecutionEndData{Status: "failed", ErrorCode: "node_failed", ErrorMessage: long(300 << 10), Output: long(800 << 10), Steps: 2}
		evs := []events.Event{
			{ID: "x-big-1", Version: events.SchemaVersion, Type: events.NodeExecuted, ExecutionID: "x-big", UserID: "u1", Seq: 1, Time: t0,
				Data: events.NodeExecutedData{NodeID: "tools", Kind: "tools", Step: 1, Status: "error", Error: long(400 << 10)}},
			{ID: "x-big-2", Version: events.SchemaVersion, Type: events.ExecutionFailed, ExecutionID: "x-big", UserID: "u1", Seq: 2,
				Time: t0.Add(time.Second), Data: end},
		}
		for round := range 2 {
			for _, e := range evs {
				if err := record.Apply(context.Background(), r, e); err != nil {
					t.Fatalf("delivery %d of %s: %v", round+1, e.Type, err)
				}
			}
		}
		x, log := state(t, r, "x-big")
		if x.Status != store.ExecFailed || !text.Shortened(x.Output, end.Output) || !text.Shortened(x.ErrorMessage, end.ErrorMessage) {
			t.Fatalf("record %s with %d bytes of output and %d of error, want failed with marked prefixes", x.Status, len(x.Output), len(x.ErrorMessage))
		}
		if len(log) != 2 {
			t.Fatalf("log has %d events, want 2", len(log))
		}
		var node events.NodeExecutedData
		// The log keeps no content (a node's error can quote the message): the
		// entry lands with its fields and without the error text, which the
		// record holds, cut.
		if err := json.Unmarshal(log[0].Data, &node); err != nil || len(log[0].Data) > store.MaxEventDataBytes ||
			node.NodeID != "tools" || node.Status != "error" || node.Error != "" {
			t.Fatalf("node_executed kept as %d bytes (%v): %+v, want its fields without the error text", len(log[0].Data), err, node)
		}
	})
}

// execution_cancelled names who cancelled; applied twice (a redelivery) it stores
// the same record and one log entry.
func TestApply_CancelledRunKeepsWhoCancelledOnce(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x-cancel")
		evs := chatTrail("x-cancel", events.ExecutionCancelled, events.ExecutionEndData{Status: "cancelled",
			ErrorCode: "cancelled", ErrorMessage: "the run was cancelled on request", CancelledBy: "u1", Steps: 1})
		applyAll(t, r, evs)
		first, log1 := state(t, r, "x-cancel")
		applyAll(t, r, evs[len(evs)-1:])
		again, log2 := state(t, r, "x-cancel")
		if first.Status != store.ExecCancelled || first.CancelledBy != "u1" || first.ErrorCode != "cancelled" {
			t.Fatalf("record = %+v; want cancelled by u1", first)
		}
		if !reflect.DeepEqual(first, again) || len(log1) != len(log2) {
			t.Fatalf("a redelivered execution_cancelled changed the state: %+v -> %+v, log %d -> %d", first, again, len(log1), len(log2))
		}
	})
}

// Ends reports the one write that ended the run: a second terminal event (a sweep
// after the run's own end) ends nothing and leaves no log entry.
func TestEnds_OnlyTheFirstTerminalEventEndsTheRun(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		running(t, r, "x-ends")
		ctx := context.Background()
		done := chatTrail("x-ends", events.ExecutionCompleted, completed)
		applyAll(t, r, done)
		_, before := state(t, r, "x-ends")
		sweep := events.Event{ID: "x-ends-sweep", Version: events.SchemaVersion, Type: events.ExecutionFailed, ExecutionID: "x-ends",
			UserID: "u1", Seq: 1 << 30, Time: t0.Add(time.Hour), Data: events.ExecutionEndData{Status: "failed", ErrorCode: "timeout"}}
		ended, err := record.Ends(ctx, r, sweep)
		x, after := state(t, r, "x-ends")
		if err != nil || ended || x.Status != store.ExecCompleted || len(after) != len(before) {
			t.Fatalf("Ends after the run's end: %v, %v; record %s, log %d -> %d", ended, err, x.Status, len(before), len(after))
		}
		running(t, r, "x-ends-2")
		sweep.ID, sweep.ExecutionID = "x-ends-2-sweep", "x-ends-2"
		if ended, err := record.Ends(ctx, r, sweep); err != nil || !ended {
			t.Fatalf("Ends of a running run: %v, %v; want ended", ended, err)
		}
		if x, log := state(t, r, "x-ends-2"); x.Status != store.ExecFailed || x.ErrorCode != "timeout" || len(log) != 1 {
			t.Fatalf("record %+v, log %v", x, log)
		}
	})
}
