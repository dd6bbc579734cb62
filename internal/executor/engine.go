package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/requestid"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/workflow"
)

// outcome is what one node visit produced.
type outcome struct {
	v      int
	eff    effect
	err    error
	jump   int // error handler retry: the vertex to run next, or -2
	detail string
	start  time.Time
	dur    time.Duration
	wait   bool // a human node: the run pauses here for a person (human.go)
}

// run stores the user message, then runs the graph superstep by superstep.
func (r *run) run(ctx context.Context) error {
	if err := r.startTurn(ctx); err != nil {
		return err
	}
	return r.loop(ctx, append(r.bufs.frontier[:0], r.graph.Entry), 0)
}

// loop runs the graph from frontier, superstep by superstep after step, until no
// vertex is left, a failure ends the run, or a human node pauses it (errWaiting,
// with r.pause saying where).
func (r *run) loop(ctx context.Context, frontier []int, step int) error {
	g := r.graph
	b := &r.bufs
	next, runnable, deferred, outs := b.next, b.runnable, b.deferred, b.outs
	defer func() { // the grown buffers, for the next run of this run struct
		b.frontier, b.next, b.runnable, b.deferred, b.outs = frontier, next, runnable, deferred, outs
	}()
	for len(frontier) > 0 {
		if err := r.ctxErr(ctx); err != nil {
			return err
		}
		if step >= r.x.o.StepLimit {
			return &RuntimeError{Code: errcode.StepLimit, Message: fmt.Sprintf("the run exceeded %d steps", r.x.o.StepLimit)}
		}
		step++
		r.steps = step
		// A join waits while another active branch can still reach it.
		runnable, deferred = runnable[:0], deferred[:0]
		for _, v := range frontier {
			wait := false
			if g.Nodes[v].Joins {
				for _, u := range frontier {
					if u != v && g.CanReach(u, v) {
						wait = true
						break
					}
				}
			}
			if wait {
				deferred = append(deferred, v)
			} else {
				runnable = append(runnable, v)
			}
		}
		r.st.syncEnv()
		outs = outs[:0]
		if len(runnable) == 1 {
			outs = append(outs, r.visit(ctx, runnable[0], step))
		} else {
			outs = slices.Grow(outs, len(runnable))[:len(runnable)]
			par := outs // the branches write their own element; outs itself stays put
			var wg sync.WaitGroup
			for i, v := range runnable {
				wg.Go(func() { par[i] = r.visit(ctx, v, step) })
			}
			wg.Wait()
		}
		// Apply effects in vertex order, then route.
		slices.SortFunc(outs, func(a, b outcome) int { return a.v - b.v })
		next = append(next[:0], deferred...)
		for i := range outs {
			o := &outs[i]
			if o.wait {
				continue // logged when the person answers
			}
			if o.eff != nil {
				if err := o.eff(&r.st); err != nil && o.err == nil {
					o.err = err
				}
			}
			r.logVisit(ctx, o, step)
		}
		r.st.syncEnv()
		for i := range outs {
			o := &outs[i]
			if o.wait {
				if r.pause == nil {
					r.pause = &pause{v: o.v, at: o.start}
				} else {
					next = append(next, o.v) // one person at a time: it asks again after
				}
				continue
			}
			if o.err != nil {
				if err := r.ctxErr(ctx); err != nil {
					return err
				}
				if r.retryNode(o.v) {
					next = append(next, o.v)
					continue
				}
				// A failing error handler (fallback stop) ends the run: routing it to a
				// handler again would loop until the step limit.
				if len(r.handlers) == 0 || g.Nodes[o.v].Kind == workflow.KindErrorHandler || ErrorCode(o.err) == errcode.ExpressionBudget {
					return nodeError(&g.Nodes[o.v], o.err)
				}
				r.st.errors = append(r.st.errors, fmt.Sprintf("%s: %v", g.Nodes[o.v].ID, publicNodeError(o.err)))
				r.st.lastFail = o.v
				r.st.syncEnv()
			}
			if o.jump >= 0 {
				next = append(next, o.jump)
				continue
			}
			before := len(next)
			var err error
			next, err = g.Next(ctx, next, o.v, &r.st.env)
			if err != nil {
				if cerr := r.ctxErr(ctx); cerr != nil {
					return cerr
				}
				return conditionError(g.Nodes[o.v].ID, err)
			}
			var handled bool
			if next, handled = r.handlerRouting(next, before, o.v, o.err != nil); !handled {
				return nodeError(&g.Nodes[o.v], o.err)
			}
		}
		// The next frontier: distinct vertices, END dropped.
		frontier = frontier[:0]
		for _, v := range next {
			if v >= 0 && !slices.Contains(frontier, v) {
				frontier = append(frontier, v)
			}
		}
		slices.Sort(frontier)
		if r.pause != nil {
			r.pause.frontier, r.pause.step = slices.Clone(frontier), step
			return errWaiting
		}
	}
	r.st.syncEnv()
	if len(r.st.errors) > r.st.handled {
		last := r.st.errors[len(r.st.errors)-1]
		return &RuntimeError{Code: errcode.NodeFailed, Message: "unhandled node error: " + last}
	}
	return nil
}

// retryNode reports whether a failed vertex is run again (its retries setting, per
// run), counting the retry.
func (r *run) retryNode(v int) bool {
	if r.st.nodeRetries[v] >= r.graph.Nodes[v].Retries {
		return false
	}
	if r.st.nodeRetries == nil {
		r.st.nodeRetries = map[int]int{}
	}
	r.st.nodeRetries[v]++
	return true
}

// handlerRouting applies the one rule of error handlers to the targets vertex v
// routed to (next[from:]): an error handler is entered only when v failed. On
// success the arcs into handlers are dropped (none left: the run ends there); on
// failure only the handlers v has arcs to are kept, else the first handler of the
// graph — in both cases only handlers that take v's failure (workflow.Graph.Handles:
// none whose branch leads back to v, which would repeat the failure until the step
// limit). ok is false when a failure has no handler to go to: it ends the run.
func (r *run) handlerRouting(next []int, from, v int, failed bool) (out []int, ok bool) {
	isHandler := func(t int) bool { return t >= 0 && r.graph.Nodes[t].Kind == workflow.KindErrorHandler }
	targets := next[from:]
	if !failed {
		if !slices.ContainsFunc(targets, isHandler) {
			return next, true
		}
		kept := slices.DeleteFunc(targets, isHandler)
		if len(kept) == 0 {
			kept = append(kept, -1)
		}
		return append(next[:from], kept...), true
	}
	kept := slices.DeleteFunc(targets, func(t int) bool { return !isHandler(t) || !r.graph.Handles(t, v) })
	if len(kept) == 0 {
		for _, h := range r.handlers {
			if r.graph.Handles(h, v) {
				kept = append(kept, h)
				break
			}
		}
	}
	return append(next[:from], kept...), len(kept) > 0
}

// ctxErr turns a done context into a CancelledError or timeout RuntimeError.
func (r *run) ctxErr(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	if r.sinkErr != nil {
		return &CancelledError{Code: errcode.Disconnected, Message: "the client went away", Err: r.sinkErr}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &RuntimeError{Code: errcode.Timeout, Message: fmt.Sprintf("the run exceeded its time limit (%s)", r.limit.Round(time.Millisecond)), Err: ctx.Err()}
	}
	if cr := r.cancelReq.Load(); cr != nil {
		return &CancelledError{Code: errcode.Cancelled, Message: "the run was cancelled on request", By: cr.by, Err: cr}
	}
	return &CancelledError{Code: errcode.Cancelled, Message: "the run was cancelled", Err: cause(ctx)}
}

func nodeError(v *workflow.Vertex, err error) error {
	var le *llm.Error
	if errors.As(err, &le) {
		return &RuntimeError{Code: errcode.LLM, NodeID: v.ID, LLMCode: le.Code, Message: publicNodeError(err), Err: err}
	}
	var re *RuntimeError
	if errors.As(err, &re) {
		if re.NodeID == "" {
			re.NodeID = v.ID
		}
		return re
	}
	return &RuntimeError{Code: errcode.NodeFailed, NodeID: v.ID, Message: err.Error(), Err: err}
}

// publicNodeError is a node failure as the client may see it: provider errors by
// code, without upstream details that could carry secrets.
func publicNodeError(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return fmt.Sprintf("model provider %s failed: %s", le.Provider, le.Code)
	}
	return text.Shorten(err.Error(), store.MaxErrorBytes)
}

// visit runs one node, within its timeout when it has one.
func (r *run) visit(ctx context.Context, v, step int) outcome {
	x := &r.graph.Nodes[v]
	o := outcome{v: v, jump: -2, start: r.x.o.Now()}
	r.send(wire.Chunk{Type: wire.ChunkNodeStarted, NodeID: x.ID, Kind: string(x.Kind)})
	nctx := ctx
	if x.Timeout > 0 {
		b := withDeadline(ctx, r.x.realNow(o.start).Add(x.Timeout))
		defer b.cancel()
		nctx = b
	}
	o.eff, o.err = r.exec(nctx, x, &o)
	if o.err != nil && ctx.Err() == nil && errors.Is(nctx.Err(), context.DeadlineExceeded) {
		o.err = &RuntimeError{Code: errcode.Timeout, NodeID: x.ID,
			Message: fmt.Sprintf("node %q exceeded its timeout of %s", x.ID, x.Timeout), Err: o.err}
	}
	o.dur = r.x.since(o.start)
	return o
}

func (r *run) logVisit(ctx context.Context, o *outcome, step int) {
	x := &r.graph.Nodes[o.v]
	status := "ok"
	errText := ""
	if o.err != nil {
		status, errText = "error", publicNodeError(o.err)
	}
	r.st.visits[o.v]++
	r.log = append(r.log, store.NodeRun{Step: step, NodeID: x.ID, Kind: string(x.Kind), Status: status,
		StartedAt: o.start, DurationMS: ms(o.dur), Error: errText, Detail: o.detail})
	r.send(wire.Chunk{Type: wire.ChunkNodeFinished, NodeID: x.ID, Kind: string(x.Kind), DurationMS: ms(o.dur)})
	emit(r, ctx, events.NodeExecuted, events.NodeExecutedData{NodeID: x.ID, Kind: string(x.Kind), Step: step,
		Status: status, DurationMS: ms(o.dur), Error: errText})
}

// send numbers a chunk and hands it to the sink; a sink error cancels the run.
func (r *run) send(c wire.Chunk) {
	if r.sink == Discard && r.frames == nil {
		return // nobody sees the chunks of a standard run, nor their numbers
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sinkErr != nil {
		return
	}
	r.chunkSeq++
	c.Seq = r.chunkSeq
	if r.frames != nil {
		r.frames.add(c)
		if r.detached != nil {
			return
		}
		if err := r.sink.Send(c); err != nil {
			r.detached = err // on_disconnect continue: the run goes on
			r.x.o.Logger.Info("client went away; the run continues", "execution_id", r.id, "err", err)
		}
		return
	}
	if err := r.sink.Send(c); err != nil {
		r.sinkErr = err
		if r.runCtx != nil {
			r.runCtx.cancel()
		}
	}
}

// emit numbers an event and hands it to the emitter. Emit is called under the lock
// (it must not block) so parallel branches hand events over in seq order. It is
// generic so that a run whose events nobody takes (DiscardEvents, or a resume
// preparing) builds none: data becomes an interface value only past that check.
func emit[T any](r *run, ctx context.Context, typ string, data T) {
	if r.quiet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eventSeq++ // counted all the same: a checkpoint numbers the resumed run's events on from it
	if r.x.noEvents {
		return
	}
	now := r.x.o.Now()
	e := events.Event{ID: r.eventID(r.eventSeq), Version: events.SchemaVersion, Type: typ, ExecutionID: r.id,
		UserID: r.userID, RequestID: requestid.From(ctx), ConversationID: r.convID, Seq: r.eventSeq, Time: now,
		Source: events.SourceRef{Kind: r.source.Kind, ID: r.source.ID, Version: r.source.Version}, Data: data}
	r.x.o.Emitter.Emit(ctx, e)
}

// startTurn stores the user message (and a new conversation) and the running
// execution before any model call.
func (r *run) startTurn(ctx context.Context) error {
	now := r.began // the user message is stored as of the run's start
	in := &r.req.Input
	// The user message, the running record and a new conversation live in the run
	// (the store keeps no pointer of a StartTurn): no allocation for any.
	r.userMsgRec = store.Message{ID: r.newID(), ConversationID: r.convID, UserID: r.userID, ExecutionID: r.id,
		Role: llm.RoleUser, Content: in.Message, Status: store.StatusComplete, CreatedAt: now}
	t := store.StartTurn{UserMessage: &r.userMsgRec}
	r.startExec = r.executionRecord(store.ExecRunning, now)
	t.Execution = &r.startExec
	if r.newConv {
		r.newConvRec = store.Conversation{ID: r.convID, UserID: r.userID, Title: title(in.Message),
			CreatedAt: now, UpdatedAt: now}
		t.NewConversation = &r.newConvRec
		r.conv = &r.newConvRec
	}
	if err := r.x.o.Store.StartTurn(ctx, t); err != nil {
		if pe := refusal(err); pe != nil {
			return pe
		}
		if errors.Is(err, store.ErrNotFound) {
			return &PreparationError{Code: errcode.NotFound, Field: "conversation_id", Message: err.Error(), Err: err}
		}
		return &RuntimeError{Code: errcode.Storage, Message: "storing the user message", Err: err}
	}
	r.userMsg = t.UserMessage
	emit(r, ctx, events.MessageSaved, events.MessageSavedData{MessageID: t.UserMessage.ID, Role: string(llm.RoleUser),
		Seq: t.UserMessage.Seq, Status: store.StatusComplete})
	emit[any](r, ctx, events.ExecutionStarted, nil)
	r.send(wire.Chunk{Type: wire.ChunkStart, ExecutionID: r.id, ConversationID: r.convID})
	return nil
}

// title is the first line of the first message, shortened.
func title(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return text.Shorten(line, maxTitleBytes)
}

const maxTitleBytes = 80

// execution is the run's execution record in status, for a store write or the Result.
func (r *run) execution(status string, now time.Time) *store.Execution {
	e := r.executionRecord(status, now)
	return &e
}

// executionRecord is execution by value, for a record the run holds itself.
func (r *run) executionRecord(status string, now time.Time) store.Execution {
	return store.Execution{ID: r.id, UserID: r.userID, ConversationID: r.convID, Source: r.source,
		Mode: string(r.mode()), Status: status, StartedAt: r.started, Metadata: r.req.Input.Metadata,
		Deadline: r.deadline(), Idempotency: r.req.Idempotency, KeepsFrames: r.frames != nil}
}

// deadline is when the run is overdue: its time limit and store.DeadlineSlack after
// this invocation started. The slack outlasts the run's own end (finishTimeout for the final
// writes), so only a run whose instance died is swept.
func (r *run) deadline() time.Time {
	return r.began.Add(r.limit + store.DeadlineSlack)
}

// eventID is events.ID(r.id, seq), cut from the run's arena of ids: a run's events
// share a few allocations instead of one each. Bytes in the arena are never written
// again once an id was cut from them (a full arena is replaced, not grown), so the
// strings stay as they were made.
func (r *run) eventID(seq int) string {
	n := len(r.id) + 12 // "-" and the seq
	if cap(r.idArena)-len(r.idArena) < n {
		r.idArena = make([]byte, 0, 16*n)
	}
	start := len(r.idArena)
	r.idArena = events.AppendID(r.idArena, r.id, seq)
	b := r.idArena[start:]
	return unsafe.String(unsafe.SliceData(b), len(b))
}
