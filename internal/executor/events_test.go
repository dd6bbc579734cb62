package executor_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
)

func countTypes(evs []events.Event) map[string]int {
	n := map[string]int{}
	for _, e := range evs {
		n[e.Type]++
	}
	return n
}

// checkTrail asserts the invariants every run's events keep: seq 1..N without gaps,
// unique ids, exactly one terminal event, last.
func checkTrail(t *testing.T, evs []events.Event, terminal string) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	ids := map[string]bool{}
	terminals := 0
	for i, e := range evs {
		if e.Seq != i+1 {
			t.Errorf("event %d (%s) seq = %d, want %d", i, e.Type, e.Seq, i+1)
		}
		if ids[e.ID] || e.ID == "" {
			t.Errorf("event %d id %q empty or repeated", i, e.ID)
		}
		ids[e.ID] = true
		if e.UserID == "" || e.Version != events.SchemaVersion {
			t.Errorf("event %d = %+v, want user id and schema version", i, e)
		}
		if e.Terminal() {
			terminals++
		}
	}
	if terminals != 1 {
		t.Errorf("terminal events = %d, want exactly 1", terminals)
	}
	if last := evs[len(evs)-1]; last.Type != terminal {
		t.Errorf("last event = %s, want %s", last.Type, terminal)
	}
}

func TestExecute_EventTrail(t *testing.T) {
	tests := []struct {
		name     string
		req      executor.Request
		terminal string
		want     map[string]int // exact counts of these types
	}{
		{"completed chat", template("general_chat", "hi"), events.ExecutionCompleted,
			map[string]int{events.WorkflowStarted: 1, events.LLMLoaded: 1, events.ExecutionStarted: 1, events.TokenUsage: 1,
				events.MessageSaved: 2, events.ExecutionFailed: 0, events.ToolCalled: 0}},
		{"completed tool run", template("code_assistant", `/tool calculator {"expression":"2+3"}`), events.ExecutionCompleted,
			map[string]int{events.ToolsLoaded: 1, events.ToolCalled: 1, events.TokenUsage: 2, events.MessageSaved: 2, events.ExecutionFailed: 0}},
		{"runtime failure", template("general_chat", "/fail invalid_request"), events.ExecutionFailed,
			map[string]int{events.MessageSaved: 1, events.ExecutionCompleted: 0, events.TokenUsage: 0}},
		{"preparation failure", template("no_such_template", "hi"), events.ExecutionFailed,
			map[string]int{events.ExecutionStarted: 0, events.MessageSaved: 0, events.ExecutionCompleted: 0}},
		{"invalid input", template("general_chat", "   "), events.ExecutionFailed,
			map[string]int{events.WorkflowStarted: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.req.ExecutionID = "exec-1"
			_, _ = h.exec(t, tt.req, nil)
			evs := h.eventsOf("exec-1")
			checkTrail(t, evs, tt.terminal)
			got := countTypes(evs)
			for typ, n := range tt.want {
				if got[typ] != n {
					t.Errorf("%s events = %d, want %d (all: %v)", typ, got[typ], n, got)
				}
			}
			// Only a request refused before its run started is marked rejected.
			last := evs[len(evs)-1].Data.(events.ExecutionEndData)
			wantRejected := tt.name == "preparation failure" || tt.name == "invalid input"
			if last.Rejected != wantRejected {
				t.Errorf("terminal event rejected = %v, want %v", last.Rejected, wantRejected)
			}
		})
	}
}

func TestExecute_MessageSavedEventsNameBothRoles(t *testing.T) {
	h := newHarness(t, nil)
	res := h.mustRun(t, template("general_chat", "hi"), nil)
	var roles []string
	for _, e := range h.eventsOf(res.ExecutionID) {
		if e.Type != events.MessageSaved {
			continue
		}
		d := e.Data.(events.MessageSavedData)
		roles = append(roles, d.Role)
		if d.MessageID == "" || d.Status != store.StatusComplete {
			t.Errorf("message_saved = %+v", d)
		}
		if d.Role == "assistant" && d.MessageID != res.AssistantMessageID {
			t.Errorf("assistant message id = %s, want %s", d.MessageID, res.AssistantMessageID)
		}
		if d.Role == "user" && d.MessageID != res.UserMessageID {
			t.Errorf("user message id = %s, want %s", d.MessageID, res.UserMessageID)
		}
	}
	if len(roles) != 2 || roles[0] != "user" || roles[1] != "assistant" {
		t.Fatalf("message_saved roles = %v, want [user assistant]", roles)
	}
}

func TestExecute_CompletedEventCarriesTotals(t *testing.T) {
	h := newHarness(t, nil)
	res := h.mustRun(t, template("code_assistant", `/tool calculator {"expression":"2+3"}`), nil)
	evs := h.eventsOf(res.ExecutionID)
	d, ok := evs[len(evs)-1].Data.(events.ExecutionEndData)
	if !ok {
		t.Fatalf("terminal data = %T", evs[len(evs)-1].Data)
	}
	if d.TotalTokens != res.Usage.Total() || d.TotalTokens == 0 || d.ToolCalls != 1 || d.Steps != res.Steps || d.Output != res.Response {
		t.Errorf("end data = %+v, want the result's totals (%+v)", d, res.Usage)
	}
	sum := 0
	for _, e := range evs {
		if u, ok := e.Data.(events.TokenUsageData); ok {
			sum += u.InputTokens + u.OutputTokens
		}
	}
	if sum != d.TotalTokens {
		t.Errorf("token_usage events sum to %d, want %d", sum, d.TotalTokens)
	}
}

func TestExecute_ParallelBranchesEmitEventsInSeqOrder(t *testing.T) {
	d := def([]workflow.Node{node("start", "start", ""), node("a", "llm", ""), node("b", "llm", "")},
		edge("start", "a"), edge("start", "b"), edge("a", "END"), edge("b", "END"))
	h := newHarness(t, nil)
	for range 20 {
		res := h.mustRun(t, inline(d, "hi"), nil)
		evs := h.eventsOf(res.ExecutionID)
		checkTrail(t, evs, events.ExecutionCompleted)
		if n := countTypes(evs)[events.TokenUsage]; n != 2 {
			t.Fatalf("token_usage events = %d, want 2", n)
		}
		if want := "You said: hi.\n\nYou said: hi."; res.Response != want {
			t.Fatalf("Response = %q, want %q", res.Response, want)
		}
	}
}

// TestExecute_DiscardEventsChangesOnlyTheEvents: a run given DiscardEvents builds
// no events, and all else — the Result, the chunks, the stored records and a
// paused run's checkpoint (which numbers the resumed run's events) — is as a run
// whose emitter keeps them leaves it.
func TestExecute_DiscardEventsChangesOnlyTheEvents(t *testing.T) {
	t0 := time.Now() // the store reads checkpoints against the real time
	build := func(emitter executor.Emitter) *harness {
		n := 0
		return newHarness(t, func(o *executor.Options) {
			if emitter != nil {
				o.Emitter = emitter
			}
			o.Now = func() time.Time { return t0 } // events take the time too: a moving clock would differ
			o.NewID = func() string { n++; return fmt.Sprintf("id-%d", n) }
			o.Providers = []llm.Provider{newCountingModel().rec.Provider}
		})
	}
	for _, req := range []executor.Request{
		template("general_chat", "hello"),
		inline(approvalDef(`{"prompt":"Send the draft?","timeout":3600}`), "write a note"),
	} {
		type run struct {
			res    *executor.Result
			chunks []wire.Chunk
			rec    *store.Execution
			cp     []byte
		}
		var runs [2]run
		for i, h := range []*harness{build(nil), build(executor.DiscardEvents)} {
			var c executor.Collector
			res, err := h.exec(t, req, &c)
			if err != nil {
				t.Fatalf("%s: %v", req.Source.Kind, err)
			}
			runs[i] = run{res: res, chunks: c.Chunks, rec: h.execution(t, userA, res.ExecutionID)}
			if res.Status == store.ExecWaiting {
				if runs[i].cp, err = h.store.Checkpoint(context.Background(), userA, res.ConversationID, res.ExecutionID); err != nil {
					t.Fatalf("Checkpoint: %v", err)
				}
			}
			if i == 0 && len(h.eventsOf(res.ExecutionID)) == 0 {
				t.Fatalf("%s: the recorder got no events", req.Source.Kind)
			}
		}
		if !reflect.DeepEqual(runs[0], runs[1]) {
			t.Errorf("%s: with DiscardEvents\n%+v\nwant as with a recorder\n%+v", req.Source.Kind, runs[1], runs[0])
		}
	}
}
