package executor

// A person in the loop. A human node pauses the run: the superstep that reaches it
// finishes its other branches, then the run ends its invocation with status
// waiting. Its state — what the run added to the conversation, variables, counters,
// the node log, the rest of the frontier and the event and frame sequences — is
// written as a checkpoint (store.Checkpoints) before the record says waiting, with
// the node's timeout as the record's deadline (the sweeper ends it failed/timeout
// after that). Nothing else is written: no assistant message, no conversation
// totals; those come when the resumed run finishes, once, for the whole turn.
//
// Resume continues it in a new invocation: it reads the record (404 for another
// user's, 409 unless waiting) and the checkpoint, prepares the run again from the
// request the checkpoint keeps (the definition version pinned, the template by
// its id) with the history re-read up to the run's user message, checks the
// person's input against the node's config (422), and only then moves the record
// from waiting to running under a condition — so of two resumes one wins and the
// other is a 409, and a bad input leaves the run waiting. The run goes on with the
// same execution id, its events and stream frames numbered on from where they
// stopped.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/requestid"
	"github.com/chatterhq/chatter/internal/workflow"
)

// errWaiting ends run.loop at a human node (r.pause says where).
var errWaiting = errors.New("waiting for a person")

// pause is where a run stopped for a person.
type pause struct {
	v        int       // the human vertex
	at       time.Time // when it was reached
	frontier []int     // the other vertices still to run, after it
	step     int
}

// HumanInput is a person's answer to a waiting run: Action for approval input
// (workflow.HumanApprove or HumanReject), Text for text and edit input.
type HumanInput struct {
	Action string `json:"action,omitempty"`
	Text   string `json:"text,omitempty"`
}

// ResumeRequest continues a waiting execution with a person's input.
type ResumeRequest struct {
	UserID       string
	ExecutionID  string
	Input        HumanInput
	Mode         Mode
	Idempotency  *store.IdempotencyRef
	OnDisconnect string
}

// checkpointVersion versions the checkpoint's encoding.
const checkpointVersion = 1

// checkpoint is a paused run, as stored (store.Checkpoints).
type checkpoint struct {
	V        int             `json:"v"`
	Request  savedRequest    `json:"request"`
	Started  time.Time       `json:"started"`
	UserMsg  msgRef          `json:"user_message"`
	NewConv  bool            `json:"new_conversation,omitempty"`
	Node     string          `json:"node"`
	Vertex   int             `json:"vertex"`
	Nodes    int             `json:"nodes"`
	PausedAt time.Time       `json:"paused_at"`
	Frontier []int           `json:"frontier,omitempty"`
	Step     int             `json:"step"`
	EventSeq int             `json:"event_seq"`
	ChunkSeq int             `json:"chunk_seq"`
	Log      []store.NodeRun `json:"log,omitempty"`
	State    savedState      `json:"state"`
}

// savedRequest is the part of the Request a resume prepares the run from.
type savedRequest struct {
	Kind       SourceKind           `json:"kind"`
	ID         string               `json:"id,omitempty"`
	Version    int                  `json:"version,omitempty"`
	Params     *workflow.Params     `json:"params,omitempty"`
	Definition *workflow.Definition `json:"definition,omitempty"`
	Message    string               `json:"message"`
	Config     Config               `json:"config"`
	Metadata   map[string]any       `json:"metadata,omitempty"`
	History    []llm.Message        `json:"history,omitempty"`
}

type msgRef struct {
	ID        string    `json:"id"`
	Seq       int       `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
}

// savedState is the run's state (state) without the history, which a resume reads
// again.
type savedState struct {
	Added       []llm.Message                 `json:"added,omitempty"` // after the user message
	HistLen     int                           `json:"hist_len"`
	Pending     []llm.ToolCall                `json:"pending,omitempty"`
	ToolCalls   int                           `json:"tool_calls,omitempty"`
	Records     []store.ToolCallRecord        `json:"records,omitempty"`
	Vars        map[string]any                `json:"vars,omitempty"`
	Errors      []string                      `json:"errors,omitempty"`
	Handled     int                           `json:"handled,omitempty"`
	LastFail    int                           `json:"last_fail"`
	Loops       map[string]*workflow.LoopInfo `json:"loops,omitempty"`
	Visits      map[int]int                   `json:"visits,omitempty"`
	Retries     map[int]int                   `json:"retries,omitempty"`
	NodeRetries map[int]int                   `json:"node_retries,omitempty"`
	Reply       string                        `json:"reply,omitempty"`
	LastText    string                        `json:"last_text,omitempty"`
	Finish      string                        `json:"finish,omitempty"`
	Usage       llm.Usage                     `json:"usage"`
	Cost        float64                       `json:"cost,omitempty"`
	CostKnown   bool                          `json:"cost_known"`
	Provider    string                        `json:"provider,omitempty"`
	Model       string                        `json:"model,omitempty"`
	Sources     []retrieval.Passage           `json:"sources,omitempty"`
	Summary     string                        `json:"summary,omitempty"`
	NewSummary  *store.SummaryUpdate          `json:"new_summary,omitempty"`
	FoldCounted bool                          `json:"fold_counted,omitempty"`
	Context     string                        `json:"context,omitempty"`
}

func (r *run) save(p *pause) checkpoint {
	st := &r.st
	src := r.req.Source
	in := &r.req.Input
	cp := checkpoint{V: checkpointVersion, Started: r.started, NewConv: r.newConv,
		UserMsg: msgRef{ID: r.userMsg.ID, Seq: r.userMsg.Seq, CreatedAt: r.userMsg.CreatedAt},
		Node:    r.graph.Nodes[p.v].ID, Vertex: p.v, Nodes: len(r.graph.Nodes), PausedAt: p.at, Frontier: p.frontier,
		Step: p.step, EventSeq: r.eventSeq + waitEvents, ChunkSeq: r.chunkSeq + waitChunks, Log: r.log,
		// The source as it resolved: a definition's version, a template's id.
		Request: savedRequest{Kind: src.Kind, ID: first(r.source.ID, src.ID), Version: r.source.Version, Params: src.Params,
			Definition: src.Definition, Message: in.Message, Config: in.Config, Metadata: in.Metadata, History: in.History},
		State: savedState{Added: st.msgs[st.histLen+1:], HistLen: st.histLen, Pending: st.pending, ToolCalls: st.toolCalls,
			Records: st.records, Vars: st.vars, Errors: st.errors, Handled: st.handled, LastFail: st.lastFail, Loops: st.loops,
			Visits: st.visits, Retries: st.retries, NodeRetries: st.nodeRetries, Reply: st.reply.String(), LastText: st.lastText,
			Finish: st.finish, Usage: st.usage, Cost: st.cost, CostKnown: st.costKnown, Provider: st.provider, Model: st.model,
			Sources: st.sources, Summary: st.summary, NewSummary: st.newSummary, FoldCounted: st.foldCounted, Context: st.context},
	}
	if src.Kind == SourceTemplate && r.source.ID != "" {
		cp.Request.ID = r.source.ID
	}
	return cp
}

// restore puts the saved state back over the state init built from the history.
func (s *state) restore(v *savedState) {
	s.trimHistory(v.HistLen)
	s.msgs = append(s.msgs, v.Added...)
	s.pending, s.toolCalls, s.records = v.Pending, v.ToolCalls, v.Records
	if v.Vars != nil {
		s.vars = v.Vars
	}
	s.errors, s.handled, s.lastFail, s.loops = v.Errors, v.Handled, v.LastFail, v.Loops
	if v.Visits != nil {
		s.visits = v.Visits
	}
	s.retries, s.nodeRetries = v.Retries, v.NodeRetries
	s.reply.set(v.Reply)
	s.lastText, s.finish, s.usage, s.cost, s.costKnown = v.LastText, v.Finish, v.Usage, v.Cost, v.CostKnown
	s.provider, s.model, s.sources, s.summary = v.Provider, v.Model, v.Sources, v.Summary
	s.newSummary, s.foldCounted, s.context = v.NewSummary, v.FoldCounted, v.Context
	s.env.Variables = s.vars
	s.syncEnv()
}

// wait ends an invocation at a human node: checkpoint, then the record waiting,
// then execution_waiting and the waiting frame. A run that cannot keep its state
// (too large, the store down) or was cancelled meanwhile ends as finish ends it.
func (r *run) wait(ctx context.Context) (*Result, error) {
	now := r.x.o.Now()
	wctx := finishContext(new(deadlineCtx), ctx, r.x.realNow(now))
	defer wctx.cancel()
	p := r.pause
	v := &r.graph.Nodes[p.v]
	hc := v.Config.(*workflow.HumanConfig)
	expires := now.Add(time.Duration(hc.TimeoutMS) * time.Millisecond)
	data, err := json.Marshal(r.save(p))
	if err == nil {
		err = r.x.o.Store.PutCheckpoint(wctx, r.userID, r.convID, r.id, data, expires.Add(store.CheckpointGrace))
	}
	if err != nil {
		if store.CodeOf(err) == errcode.TooLarge {
			return r.finish(ctx, &RuntimeError{Code: errcode.TooLarge, NodeID: v.ID, Message: err.Error(), Err: err})
		}
		return r.finish(ctx, &RuntimeError{Code: errcode.Storage, NodeID: v.ID, Message: "storing the run's state to wait", Err: err})
	}
	st := &r.st
	cost := llm.Cost{USD: st.cost, Known: st.costKnown, TableVersion: llm.PriceTableVersion}
	exec := r.execution(store.ExecWaiting, now)
	exec.Deadline = expires
	exec.Usage, exec.Cost, exec.CostKnown = st.usage, cost.USD, cost.Known
	exec.ToolCalls, exec.Steps, exec.Provider, exec.Model = st.toolCalls, r.steps, st.provider, st.model
	exec.Output, exec.Log, exec.ToolCallRecords = st.reply.String(), r.log, st.records
	exec.Waiting = &store.Waiting{NodeID: v.ID, Prompt: text.Shorten(hc.Prompt, workflow.MaxHumanPromptBytes), Input: hc.Input}
	var by string
	_, err = r.x.o.Store.UpdateExecution(wctx, r.userID, r.id, func(x *store.Execution) error {
		switch {
		case x.Status != store.ExecRunning:
			return store.Conflict("execution %q is %s", r.id, x.Status)
		case x.CancelRequested:
			by = x.CancelledBy
			return errCancelRequested
		}
		*x = *exec
		return nil
	})
	switch {
	case errors.Is(err, errCancelRequested):
		return r.finish(ctx, &CancelledError{Code: errcode.Cancelled, Message: "the run was cancelled on request", By: by})
	case err != nil:
		return r.finish(ctx, &RuntimeError{Code: errcode.Storage, NodeID: v.ID, Message: "marking the run waiting", Err: err})
	}
	res := &Result{
		ExecutionID: r.id, UserID: r.userID, ConversationID: r.convID, UserMessageID: r.userMsg.ID, Source: r.source,
		Mode: r.mode(), Status: store.ExecWaiting, Response: exec.Output, ToolCalls: st.records, Sources: st.sources,
		Usage: st.usage, Cost: cost, Provider: st.provider, Model: st.model, Steps: r.steps, Log: r.log,
		Variables: st.vars, Errors: st.errors, StartedAt: r.started, FinishedAt: now, FinishReason: st.finish, Record: exec,
		Waiting: &wire.Waiting{NodeID: v.ID, Prompt: exec.Waiting.Prompt, Input: hc.Input, ExpiresAt: expires, Resume: wire.ResumePath(r.id)},
	}
	emit(r, wctx, events.ExecutionWaiting, events.ExecutionWaitingData{NodeID: v.ID, Input: hc.Input, ExpiresAt: expires, Steps: r.steps})
	end := func(c wire.Chunk) wire.Chunk {
		c.ExecutionID, c.ConversationID = r.id, r.convID
		return c
	}
	usage := res.usageBody()
	r.send(end(wire.Chunk{Type: wire.ChunkUsage, Usage: usage}))
	r.send(end(wire.Chunk{Type: wire.ChunkWaiting, NodeID: v.ID, Waiting: res.Waiting, Response: res.ChatResponse()}))
	r.send(end(wire.Chunk{Type: wire.ChunkDone, Usage: usage}))
	if r.frames != nil {
		r.frames.close()
	}
	if err := r.x.o.Emitter.Flush(wctx, r.id); err != nil {
		r.x.o.Logger.Warn("flushing events", "request_id", requestid.From(wctx), "execution_id", r.id, "err", err)
	}
	return res, nil
}

// waitEvents and waitChunks are what wait sends after the checkpoint is written
// (execution_waiting; usage, waiting, done): the resumed run numbers on after them.
const waitEvents, waitChunks = 1, 3

// errCancelRequested stops marking a run waiting that was asked to stop.
var errCancelRequested = errors.New("cancel requested")

// Resume continues a waiting execution with a person's input (see the file
// comment). Errors before the run goes on are *PreparationError: not_found (no
// such execution of this user), conflict (not waiting, or its state is gone),
// invalid_input (the input does not fit the node); the run's own end is as
// Execute's.
func (x *Executor) Resume(ctx context.Context, rr ResumeRequest, sink Sink) (*Result, error) {
	if sink == nil {
		sink = Discard
	}
	if !store.ValidID(rr.ExecutionID) {
		return nil, prepErr(errcode.InvalidInput, "id", "id is not a valid execution id")
	}
	e, err := x.o.Store.GetExecution(ctx, rr.UserID, rr.ExecutionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &PreparationError{Code: errcode.NotFound, Field: "id", Message: fmt.Sprintf("execution %q not found", rr.ExecutionID), Err: err}
	}
	if err != nil {
		return nil, &RuntimeError{Code: errcode.Storage, Message: "loading the execution", Err: err}
	}
	if e.Status != store.ExecWaiting {
		return nil, prepErr(errcode.Conflict, "id", "execution %q is %s, not waiting for a person", e.ID, e.Status)
	}
	if e.CancelRequested {
		return nil, prepErr(errcode.Conflict, "id", "execution %q was cancelled while it waited", e.ID)
	}
	data, err := x.o.Store.Checkpoint(ctx, rr.UserID, e.ConversationID, e.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, prepErr(errcode.Conflict, "id", "the state of execution %q is gone (its wait ended or its conversation was deleted)", e.ID)
	}
	if err != nil {
		return nil, &RuntimeError{Code: errcode.Storage, Message: "loading the run's state", Err: err}
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil || cp.V != checkpointVersion {
		return nil, &RuntimeError{Code: errcode.Internal, Message: "the run's state cannot be read", Err: err}
	}
	sr := &cp.Request
	req := Request{Source: Source{Kind: sr.Kind, ID: sr.ID, Version: sr.Version, Params: sr.Params, Definition: sr.Definition},
		Input: Input{Message: sr.Message, ConversationID: e.ConversationID, UserID: rr.UserID, Config: sr.Config,
			Metadata: sr.Metadata, History: sr.History},
		Mode: rr.Mode, ExecutionID: e.ID, Idempotency: rr.Idempotency, OnDisconnect: rr.OnDisconnect}
	r := x.newRun(req, sink)
	r.resumed, r.quiet = &cp, true
	if req.OnDisconnect == wire.OnDisconnectContinue && req.Mode == ModeStreaming && x.o.Frames != nil {
		var release context.CancelFunc
		ctx, release = detach(ctx)
		defer release()
		r.frames = newFrameLog(ctx, r)
	}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	v := &r.graph.Nodes[cp.Vertex]
	eff, detail, err := humanAnswer(v, rr.Input, &r.st)
	if err != nil {
		return nil, err
	}
	runCtx := r.runContext(ctx)
	defer runCtx.cancel()
	now := r.x.o.Now()
	_, err = x.o.Store.UpdateExecution(ctx, r.userID, r.id, func(x *store.Execution) error {
		if x.Status != store.ExecWaiting || x.CancelRequested {
			return store.Conflict("execution %q is %s, not waiting for a person", x.ID, x.Status)
		}
		x.Status, x.Waiting, x.Deadline = store.ExecRunning, nil, r.deadline()
		x.Mode, x.KeepsFrames = string(r.mode()), r.frames != nil
		if rr.Idempotency != nil {
			x.Idempotency = rr.Idempotency
		}
		return nil
	})
	if err != nil {
		if store.CodeOf(err) == errcode.Conflict {
			return nil, &PreparationError{Code: errcode.Conflict, Field: "id", Message: err.Error(), Err: err}
		}
		return nil, &RuntimeError{Code: errcode.Storage, Message: "resuming the execution", Err: err}
	}
	r.quiet = false
	d := events.ExecutionResumedData{NodeID: v.ID, Input: v.Config.(*workflow.HumanConfig).Input, ResumedBy: rr.UserID,
		WaitedMS: ms(now.Sub(cp.PausedAt))}
	if d.Input == workflow.HumanApproval {
		d.Decision = rr.Input.Action
	} else {
		d.TextBytes = len(rr.Input.Text)
	}
	emit(r, ctx, events.ExecutionResumed, d)
	r.send(wire.Chunk{Type: wire.ChunkStart, ExecutionID: r.id, ConversationID: r.convID})
	r.watchCancel(runCtx)
	err = r.continueAt(runCtx, &cp, eff, detail)
	runCtx.cancel()
	r.watch.stop()
	return r.finish(ctx, err)
}

// continueAt applies the person's answer at the human vertex, logs its visit and
// routes on, then runs the rest of the graph.
func (r *run) continueAt(ctx context.Context, cp *checkpoint, eff effect, detail string) error {
	o := outcome{v: cp.Vertex, eff: eff, jump: -2, detail: detail, start: cp.PausedAt, dur: r.x.since(cp.PausedAt)}
	if err := eff(&r.st); err != nil {
		return nodeError(&r.graph.Nodes[o.v], err)
	}
	r.logVisit(ctx, &o, cp.Step)
	r.st.syncEnv()
	next, err := r.graph.Next(ctx, slices.Clone(cp.Frontier), o.v, &r.st.env)
	if err != nil {
		return conditionError(r.graph.Nodes[o.v].ID, err)
	}
	var handled bool
	if next, handled = r.handlerRouting(next, len(cp.Frontier), o.v, false); !handled {
		return nodeError(&r.graph.Nodes[o.v], errors.New("no route after the human node"))
	}
	frontier := make([]int, 0, len(next))
	for _, v := range next {
		if v >= 0 && !slices.Contains(frontier, v) {
			frontier = append(frontier, v)
		}
	}
	slices.Sort(frontier)
	return r.loop(ctx, frontier, cp.Step)
}

// restoreRun rebuilds a resumed run's state: the history as it was read when the
// run started (re-read up to its user message; a new conversation's came with the
// request), then what the checkpoint saved. It checks the graph is the one that
// paused (the human node where it was).
func (r *run) restoreRun(ctx context.Context) error {
	cp := r.resumed
	if cp.Vertex < 0 || cp.Vertex >= len(r.graph.Nodes) || len(r.graph.Nodes) != cp.Nodes ||
		r.graph.Nodes[cp.Vertex].ID != cp.Node || r.graph.Nodes[cp.Vertex].Kind != workflow.KindHuman {
		return prepErr(errcode.Conflict, "id", "the workflow of execution %q changed while it waited: its human node %q is gone", r.id, cp.Node)
	}
	r.memorySettings()
	var hist []store.Message
	conv, _, err := r.x.o.Store.LoadConversation(ctx, r.userID, r.convID, 0)
	if err != nil {
		return r.lookupErr(err, "conversation_id", r.convID)
	}
	r.conv = conv
	switch {
	case cp.NewConv:
		for _, m := range r.req.Input.History {
			hist = append(hist, store.Message{Role: m.Role, Content: m.Content})
		}
	case cp.UserMsg.Seq > 1 && r.loadWindow > 0:
		from := max(cp.UserMsg.Seq-r.loadWindow, 1)
		msgs, err := r.x.o.Store.MessageRange(ctx, r.userID, r.convID, from, cp.UserMsg.Seq-1, r.loadWindow)
		if err != nil {
			return &RuntimeError{Code: errcode.Storage, Message: "loading the history", Err: err}
		}
		r.loaded = msgs
		hist = msgs
	}
	hist = hist[max(len(hist)-r.window, 0):]
	r.st.init(r, hist)
	r.st.restore(&cp.State)
	r.started, r.steps, r.log = cp.Started, cp.Step, cp.Log
	r.eventSeq, r.chunkSeq = cp.EventSeq, cp.ChunkSeq
	r.userMsg = &store.Message{ID: cp.UserMsg.ID, ConversationID: r.convID, UserID: r.userID, ExecutionID: r.id,
		Role: llm.RoleUser, Content: r.req.Input.Message, Status: store.StatusComplete, Seq: cp.UserMsg.Seq, CreatedAt: cp.UserMsg.CreatedAt}
	return nil
}

// humanAnswer checks a person's input against the node's config and returns the
// effect that puts it in the state (the node's variable; for as_message a user
// message; for edit the reply replaced), and the visit's detail (no content).
func humanAnswer(v *workflow.Vertex, in HumanInput, st *state) (effect, string, error) {
	hc := v.Config.(*workflow.HumanConfig)
	switch hc.Input {
	case workflow.HumanApproval:
		if in.Action != workflow.HumanApprove && in.Action != workflow.HumanReject {
			return nil, "", prepErr(errcode.InvalidInput, "action", "node %q asks for approval: action must be %q or %q",
				v.ID, workflow.HumanApprove, workflow.HumanReject)
		}
		if in.Text != "" {
			return nil, "", prepErr(errcode.InvalidInput, "text", "node %q asks for approval: send action, not text", v.ID)
		}
		return func(s *state) error { s.vars[hc.Variable] = in.Action; return nil }, in.Action, nil
	default:
		if strings.TrimSpace(in.Text) == "" {
			return nil, "", prepErr(errcode.InvalidInput, "text", "node %q asks for %s input: text must not be empty", v.ID, hc.Input)
		}
		if in.Action != "" {
			return nil, "", prepErr(errcode.InvalidInput, "action", "node %q asks for %s input: send text, not action", v.ID, hc.Input)
		}
		if pe := refusal(store.CheckContent(in.Text, store.DefaultMaxContentBytes)); pe != nil {
			pe.Field = "text"
			return nil, "", pe
		}
	}
	edit := hc.Input == workflow.HumanEdit
	return func(s *state) error {
		s.vars[hc.Variable] = in.Text
		if edit {
			s.reply.set(in.Text)
			s.lastText = in.Text
			if i := lastAssistant(s); i >= 0 {
				s.msgs[i].Content = in.Text
			} else {
				s.msgs = append(s.msgs, llm.Message{Role: llm.RoleAssistant, Content: in.Text})
			}
		}
		if hc.AsMessage {
			s.msgs = append(s.msgs, llm.Message{Role: llm.RoleUser, Content: in.Text})
		}
		return nil
	}, fmt.Sprintf("%s: %d bytes", hc.Input, len(in.Text)), nil
}

// lastAssistant is the index of the run's last assistant message with text, -1
// for none (the history's are not the run's to edit).
func lastAssistant(s *state) int {
	for i := len(s.msgs) - 1; i > s.histLen; i-- {
		if m := &s.msgs[i]; m.Role == llm.RoleAssistant && m.Content != "" {
			return i
		}
	}
	return -1
}
