package executor_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/workflow"
)

// countingModel answers "reply N" to its Nth call and keeps what each call saw.
type countingModel struct {
	calls atomic.Int32
	rec   recorder
}

func newCountingModel() *countingModel {
	m := &countingModel{}
	m.rec.Provider = &scripted{name: "devllm", fn: func(*llm.Request) []llm.Delta {
		return textDeltas(fmt.Sprintf("reply %d", m.calls.Add(1)))
	}}
	return m
}

// approvalDef: start -> draft (llm) -> ask (human approval) -> approve: send (llm);
// reject: END.
func approvalDef(cfg string) *workflow.Definition {
	return def([]workflow.Node{node("start", "start", ""), node("draft", "llm", ""), node("ask", "human", cfg),
		node("send", "llm", "")},
		edge("start", "draft"), edge("draft", "ask"), handleEdge("ask", "send", "approve"), handleEdge("ask", "END", "reject"),
		edge("send", "END"))
}

func humanHarness(t *testing.T) (*harness, *countingModel) {
	m := newCountingModel()
	return newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{&m.rec} }), m
}

func resume(h *harness, user, id string, in executor.HumanInput, sink executor.Sink) (*executor.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.x.Resume(ctx, executor.ResumeRequest{UserID: user, ExecutionID: id, Input: in, Mode: executor.ModeStandard}, sink)
}

func TestHuman_ApprovalPausesThenResumesWhereItStopped(t *testing.T) {
	h, m := humanHarness(t)
	res, err := h.exec(t, inline(approvalDef(`{"prompt":"Send the draft?","timeout":3600}`), "write a note"), nil)
	if err != nil || res.Status != store.ExecWaiting {
		t.Fatalf("first invocation: %v, %+v; want waiting", err, res)
	}
	if res.Waiting == nil || res.Waiting.NodeID != "ask" || res.Waiting.Prompt != "Send the draft?" ||
		res.Waiting.Input != workflow.HumanApproval || res.Waiting.Resume != wire.ResumePath(res.ExecutionID) {
		t.Fatalf("waiting = %+v", res.Waiting)
	}
	if res.Response != "reply 1" || m.calls.Load() != 1 {
		t.Fatalf("reply so far %q after %d calls", res.Response, m.calls.Load())
	}
	rec := h.execution(t, userA, res.ExecutionID)
	if rec.Status != store.ExecWaiting || rec.Waiting == nil || rec.Waiting.NodeID != "ask" {
		t.Fatalf("record %+v", rec)
	}
	if left := time.Until(rec.Deadline); left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("deadline in %s, want the node's timeout (1h)", left)
	}
	if msgs := h.messages(t, userA, res.ConversationID); len(msgs) != 1 || msgs[0].Role != llm.RoleUser {
		t.Fatalf("while waiting the conversation holds %d messages, want the user's only", len(msgs))
	}
	first := h.eventsOf(res.ExecutionID)
	if last := first[len(first)-1]; last.Type != events.ExecutionWaiting {
		t.Fatalf("last event %s, want execution_waiting", last.Type)
	}

	if _, err := resume(h, userB, res.ExecutionID, executor.HumanInput{Action: "approve"}, nil); !isPrep(err, errcode.NotFound) {
		t.Fatalf("another user's resume: %v, want not_found", err)
	}
	if _, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Action: "maybe"}, nil); !isPrep(err, errcode.InvalidInput) {
		t.Fatalf("a bad action: %v, want invalid_input", err)
	}
	if got := h.execution(t, userA, res.ExecutionID).Status; got != store.ExecWaiting {
		t.Fatalf("after a bad input the run is %s, want still waiting", got)
	}

	done, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Action: workflow.HumanApprove}, nil)
	if err != nil || done.Status != store.ExecCompleted {
		t.Fatalf("resume: %v, %+v", err, done)
	}
	if done.ExecutionID != res.ExecutionID || done.Response != "reply 1\n\nreply 2" || done.Variables["human_input"] != "approve" {
		t.Fatalf("resumed result: id %s, response %q, vars %v", done.ExecutionID, done.Response, done.Variables)
	}
	reqs := m.rec.requests()
	if len(reqs) != 2 || !slices.ContainsFunc(reqs[1].Messages, func(x llm.Message) bool { return x.Content == "reply 1" }) ||
		reqs[1].Messages[0].Content != "write a note" {
		t.Fatalf("the model after the pause saw %+v", reqs[len(reqs)-1].Messages)
	}
	if got := len(visits(done, "ask")); got != 1 {
		t.Errorf("the human node is logged %d times, want once", got)
	}
	msgs := h.messages(t, userA, res.ConversationID)
	if len(msgs) != 2 || msgs[1].Content != "reply 1\n\nreply 2" {
		t.Fatalf("after the resume the conversation holds %+v", msgs)
	}
	all := h.eventsOf(res.ExecutionID)
	for i, e := range all {
		if e.Seq != i+1 {
			t.Fatalf("event %d (%s) has seq %d: the sequence does not continue", i, e.Type, e.Seq)
		}
	}
	if all[len(first)].Type != events.ExecutionResumed || all[len(all)-1].Type != events.ExecutionCompleted {
		t.Fatalf("after the pause: %s ... %s", all[len(first)].Type, all[len(all)-1].Type)
	}
	if d, ok := all[len(first)].Data.(events.ExecutionResumedData); !ok || d.Decision != "approve" || d.ResumedBy != userA {
		t.Fatalf("execution_resumed data %+v", all[len(first)].Data)
	}
	if _, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Action: "approve"}, nil); !isPrep(err, errcode.Conflict) {
		t.Fatalf("resuming a finished run: %v, want conflict", err)
	}
}

func TestHuman_RejectRoutesByHandle(t *testing.T) {
	h, m := humanHarness(t)
	res, err := h.exec(t, inline(approvalDef(""), "write a note"), nil)
	if err != nil || res.Status != store.ExecWaiting {
		t.Fatalf("%v, %+v", err, res)
	}
	done, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Action: workflow.HumanReject}, nil)
	if err != nil || done.Status != store.ExecCompleted || m.calls.Load() != 1 || done.Response != "reply 1" {
		t.Fatalf("reject: %v, status %s, %d model calls, response %q", err, done.Status, m.calls.Load(), done.Response)
	}
}

func TestHuman_TextAsMessageReachesTheNextModelCall(t *testing.T) {
	h, m := humanHarness(t)
	d := def([]workflow.Node{node("start", "start", ""), node("ask", "human", `{"input":"text","variable":"brief","as_message":true}`),
		node("llm", "llm", "")}, edge("start", "ask"), edge("ask", "llm"), edge("llm", "END"))
	res, err := h.exec(t, inline(d, "plan my trip"), nil)
	if err != nil || res.Status != store.ExecWaiting || m.calls.Load() != 0 {
		t.Fatalf("%v, %+v", err, res)
	}
	if _, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Action: "approve"}, nil); !isPrep(err, errcode.InvalidInput) {
		t.Fatalf("an action for text input: %v, want invalid_input", err)
	}
	done, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Text: "three days in Lisbon"}, nil)
	if err != nil || done.Status != store.ExecCompleted {
		t.Fatalf("%v, %+v", err, done)
	}
	if got := lastMessage(&m.rec.requests()[0]); got.Role != llm.RoleUser || got.Content != "three days in Lisbon" {
		t.Fatalf("the model's last message %+v", got)
	}
	if done.Variables["brief"] != "three days in Lisbon" {
		t.Fatalf("vars %v", done.Variables)
	}
}

func TestHuman_EditReplacesTheReply(t *testing.T) {
	h, _ := humanHarness(t)
	d := def([]workflow.Node{node("start", "start", ""), node("draft", "llm", ""), node("ask", "human", `{"input":"edit"}`)},
		edge("start", "draft"), edge("draft", "ask"), edge("ask", "END"))
	res, err := h.exec(t, inline(d, "draft it"), nil)
	if err != nil || res.Status != store.ExecWaiting || res.Response != "reply 1" {
		t.Fatalf("%v, %+v", err, res)
	}
	done, err := resume(h, userA, res.ExecutionID, executor.HumanInput{Text: "reply 1, polished"}, nil)
	if err != nil || done.Response != "reply 1, polished" {
		t.Fatalf("%v, %+v", err, done)
	}
	if msgs := h.messages(t, userA, res.ConversationID); msgs[len(msgs)-1].Content != "reply 1, polished" {
		t.Fatalf("stored reply %q", msgs[len(msgs)-1].Content)
	}
}

// A streaming resume numbers its frames on from the first invocation's, so a
// client's Last-Event-ID stays meaningful across the pause.
func TestHuman_StreamingResumeContinuesTheFrameIDs(t *testing.T) {
	h, _ := humanHarness(t)
	var first, second executor.Collector
	req := inline(approvalDef(""), "write a note")
	req.Mode = executor.ModeStreaming
	res, err := h.exec(t, req, &first)
	if err != nil || res.Status != store.ExecWaiting {
		t.Fatalf("%v, %+v", err, res)
	}
	types := first.Types()
	if n := len(types); n < 3 || types[n-2] != wire.ChunkWaiting || types[n-1] != wire.ChunkDone {
		t.Fatalf("first invocation frames %v, want ... waiting, done", types)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := h.x.Resume(ctx, executor.ResumeRequest{UserID: userA, ExecutionID: res.ExecutionID,
		Input: executor.HumanInput{Action: "approve"}, Mode: executor.ModeStreaming}, &second)
	if err != nil || done.Status != store.ExecCompleted {
		t.Fatalf("%v, %+v", err, done)
	}
	lastSeq := first.Chunks[len(first.Chunks)-1].Seq
	if second.Chunks[0].Seq != lastSeq+1 || second.Chunks[0].Type != wire.ChunkStart {
		t.Fatalf("resumed stream starts with %s #%d, want start #%d", second.Chunks[0].Type, second.Chunks[0].Seq, lastSeq+1)
	}
	if second.Text() != "\n\nreply 2" { // the separator from the reply before the pause
		t.Fatalf("resumed tokens %q", second.Text())
	}
}

// A cancel asked for while the run is on its way to the human node ends it
// cancelled instead of waiting.
func TestHuman_CancelRequestedBeforeThePauseEndsTheRun(t *testing.T) {
	h, _ := humanHarness(t)
	var id string
	sink := executor.SinkFunc(func(c wire.Chunk) error {
		if c.Type == wire.ChunkStart {
			id = c.ExecutionID
		}
		if c.Type == wire.ChunkNodeStarted && c.NodeID == "ask" {
			if _, err := h.store.UpdateExecution(context.Background(), userA, id, func(x *store.Execution) error {
				return store.RequestCancel(x, userA)
			}); err != nil {
				t.Errorf("RequestCancel: %v", err)
			}
		}
		return nil
	})
	res, err := h.exec(t, inline(approvalDef(""), "write a note"), sink)
	if _, ok := errAs[*executor.CancelledError](err); !ok || res.Status != store.ExecCancelled {
		t.Fatalf("%v, %+v; want cancelled", err, res)
	}
}

func isPrep(err error, code string) bool {
	pe, ok := errAs[*executor.PreparationError](err)
	return ok && pe.Code == code
}
