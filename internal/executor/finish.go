package executor

import (
	"context"
	"errors"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/fromstore"
	"github.com/chatterhq/chatter/internal/wire/requestid"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
)

// finishTimeout bounds the final writes, which run even when the caller's context is
// cancelled (a client that went away must still leave a consistent record).
const finishTimeout = 10 * time.Second

// finishContext outlives the caller's cancellation (a client that went away) but not
// its deadline (a Lambda's end): at most finishTimeout from now (the real time), and
// never past the deadline. It is c, a zero deadlineCtx the caller holds.
func finishContext(c *deadlineCtx, ctx context.Context, now time.Time) *deadlineCtx {
	c.initDetached(ctx, now.Add(finishTimeout))
	return c
}

// finished is what a finished run hands back in its Result, allocated as one: the
// Result, its execution record, the reply and the conversation after the turn; and
// the bound of the final writes (finishContext), which fits in the same size class.
type finished struct {
	res   Result
	exec  store.Execution
	reply store.Message
	conv  store.Conversation
	bound deadlineCtx
}

// finish persists the assistant message and aggregates, emits the terminal event and
// builds the Result.
func (r *run) finish(ctx context.Context, runErr error) (*Result, error) {
	if asErr[*PreparationError](runErr) != nil || r.userMsg == nil {
		// The user message was not stored (bad input found late, or storage down):
		// nothing else may be written either.
		if runErr == nil {
			runErr = &RuntimeError{Code: errcode.Internal, Message: "user message not stored"}
		}
		emit(r, ctx, events.ExecutionFailed, events.ExecutionEndData{Status: store.ExecFailed,
			ErrorCode: ErrorCode(runErr), ErrorMessage: PublicMessage(runErr)})
		_ = r.x.o.Emitter.Flush(context.WithoutCancel(ctx), r.id)
		return nil, runErr
	}
	if errors.Is(runErr, errWaiting) {
		return r.wait(ctx)
	}
	now := r.x.o.Now()
	out := new(finished)
	wctx := finishContext(&out.bound, ctx, r.x.realNow(now))
	defer wctx.cancel()
	st := &r.st
	status, evType := store.ExecCompleted, events.ExecutionCompleted
	ce := asErr[*CancelledError](runErr)
	switch {
	case runErr == nil:
	case ce != nil:
		status, evType = store.ExecCancelled, events.ExecutionCancelled
	default:
		status, evType = store.ExecFailed, events.ExecutionFailed
	}
	cost := llm.Cost{USD: st.cost, Known: st.costKnown, TableVersion: llm.PriceTableVersion}
	res := &out.res
	*res = Result{
		ExecutionID: r.id, UserID: r.userID, ConversationID: r.convID, UserMessageID: r.userMsg.ID, Source: r.source,
		Mode: r.mode(), Status: status, Response: st.reply.String(), ToolCalls: st.records, Sources: st.sources,
		Usage: st.usage, Cost: cost, Provider: st.provider, Model: st.model, Steps: r.steps, Log: r.log,
		Variables: st.vars, Errors: st.errors, StartedAt: r.started, FinishedAt: now, FinishReason: st.finish,
	}
	if runErr != nil {
		res.Error = &wire.ErrorBody{Code: ErrorCode(runErr), Message: PublicMessage(runErr)}
		var re *RuntimeError
		if errors.As(runErr, &re) {
			res.Error.NodeID = re.NodeID
		}
	}
	var am *store.Message
	if res.Response != "" || len(st.records) > 0 || runErr == nil {
		msgStatus := store.StatusComplete
		if runErr != nil {
			msgStatus = store.StatusIncomplete
		}
		am = &out.reply
		*am = store.Message{ID: r.newID(), ConversationID: r.convID, UserID: r.userID, ExecutionID: r.id,
			Role: llm.RoleAssistant, Content: res.Response, ToolCalls: st.records, Sources: st.sources, Status: msgStatus,
			InputTokens: st.usage.InputTokens, OutputTokens: st.usage.OutputTokens, Cost: cost.USD, CostKnown: cost.Known,
			Provider: st.provider, Model: st.model, ResponseTimeMS: res.DurationMS(), CreatedAt: now}
	}
	exec := &out.exec
	*exec = r.executionRecord(status, now)
	exec.FinishedAt, exec.DurationMS = now, res.DurationMS()
	exec.Usage, exec.Cost, exec.CostKnown = st.usage, cost.USD, cost.Known
	exec.ToolCalls, exec.Steps, exec.Provider, exec.Model = st.toolCalls, r.steps, st.provider, st.model
	exec.Output, exec.Log = res.Response, r.log
	if res.Error != nil {
		exec.ErrorCode, exec.ErrorMessage, exec.ErrorNodeID = res.Error.Code, res.Error.Message, res.Error.NodeID
	}
	if am != nil {
		exec.MessageID = am.ID
	}
	cancelledBy := ""
	if ce != nil && ce.By != "" {
		cancelledBy = ce.By
		exec.CancelRequested, exec.CancelledBy = true, ce.By
	}
	exec.ToolCallRecords = st.records
	// The folded summary rides in the same write (no extra request); the store keeps
	// it only if no other turn's summary landed meanwhile.
	err := r.x.o.Store.FinishTurn(wctx, r.userID, r.convID, store.FinishTurn{AssistantMessage: am,
		Tokens: st.usage.Total(), Cost: cost.USD, Execution: exec, Summary: st.newSummary})
	res.Record = exec
	switch {
	case err == nil:
		res.Conversation = r.conversationAfter(&out.conv, am, st.usage.Total(), cost.USD, now)
	case errors.Is(err, store.ErrNotFound):
		// The conversation was deleted while the turn ran (it existed at the start).
		if runErr == nil {
			runErr = &RuntimeError{Code: errcode.ConversationDeleted,
				Message: "the conversation was deleted while this turn ran; the reply was not kept"}
			res.Status, evType = store.ExecFailed, events.ExecutionFailed
			res.Error = &wire.ErrorBody{Code: errcode.ConversationDeleted, Message: PublicMessage(runErr)}
		}
		r.endDeleted(wctx, res, exec)
		am = nil
	default:
		r.x.o.Logger.Error("finish turn", "request_id", requestid.From(wctx), "execution_id", r.id, "err", err)
		if runErr == nil {
			runErr = &RuntimeError{Code: errcode.Storage, Message: "storing the reply", Err: err}
			res.Status, evType = store.ExecFailed, events.ExecutionFailed
			res.Error = &wire.ErrorBody{Code: errcode.Storage, Message: PublicMessage(runErr)}
		}
		am = nil
	}
	if am != nil {
		res.AssistantMessageID, res.AssistantMessage = am.ID, am
		emit(r, wctx, events.MessageSaved, events.MessageSavedData{MessageID: am.ID, Role: string(llm.RoleAssistant),
			Seq: am.Seq, Status: am.Status})
	}
	emit(r, wctx, evType, events.ExecutionEndData{Status: res.Status, DurationMS: res.DurationMS(),
		Usage: *fromstore.Usage(st.usage, cost.USD, cost.Known), ToolCalls: st.toolCalls, Steps: r.steps, Provider: st.provider,
		Model: st.model, ErrorCode: errCode(res), ErrorMessage: errMsg(res), Output: res.Response, CancelledBy: cancelledBy})
	// The chunks that end the run name it, its conversation and the stored reply.
	end := func(c wire.Chunk) wire.Chunk {
		c.ExecutionID, c.ConversationID, c.MessageID = res.ExecutionID, res.ConversationID, res.AssistantMessageID
		return c
	}
	if r.sink != Discard || r.frames != nil { // a standard run's Result says it all: no end frames to build
		usage := res.usageBody()
		r.send(end(wire.Chunk{Type: wire.ChunkUsage, Usage: usage}))
		if res.Error != nil {
			r.send(end(wire.Chunk{Type: wire.ChunkError, Error: res.Error}))
		} else {
			r.send(end(wire.Chunk{Type: wire.ChunkComplete, Response: res.ChatResponse()}))
		}
		r.send(end(wire.Chunk{Type: wire.ChunkDone, Usage: usage}))
	}
	if r.frames != nil {
		r.frames.close()
	}
	if err := r.x.o.Emitter.Flush(wctx, r.id); err != nil {
		r.x.o.Logger.Warn("flushing events", "request_id", requestid.From(wctx), "execution_id", r.id, "err", err)
	}
	return res, runErr
}

// conversationAfter fills c with the conversation as this turn left it, without another
// read (the hot path stays at its four store calls): as the run loaded or created
// it, with this turn's messages and totals, and its version after the turn's two
// writes (a store bumps it when it stores the user message and again with the
// reply). message_count is the store's own count when it wrote the turn's last
// message (that message's sequence number); tokens and cost another turn added
// meanwhile are not in it.
func (r *run) conversationAfter(c *store.Conversation, am *store.Message, tokens int, cost float64, now time.Time) *store.Conversation {
	*c = *r.conv
	c.Version += 2
	if r.resumed != nil { // the user message was stored by the invocation that paused
		c.Version--
	}
	c.MessageCount, c.LastMessageAt = r.userMsg.Seq, r.userMsg.CreatedAt
	if am != nil {
		c.MessageCount, c.LastMessageAt = am.Seq, am.CreatedAt
	}
	c.TotalTokens += tokens
	c.TotalCost += cost
	c.UpdatedAt = now
	if u := r.st.newSummary; u != nil && u.Stored {
		c.Summary, c.SummarySeq = u.Text, u.ThroughSeq
	}
	return c
}

// errEnded stops the update of an execution the record subscriber already ended.
var errEnded = errors.New("execution already ended")

// endDeleted ends a turn whose conversation was deleted while it ran. The delete
// took the turn's content for good, so none is kept or passed on: no assistant
// message, no reply in the Result or the terminal event, and the execution (which
// the delete redacted) ends redacted with the run's status — failed with
// conversation_deleted unless the run had already failed or been cancelled — never
// left running. Nothing brings the conversation back: every write that needs it
// fails.
func (r *run) endDeleted(ctx context.Context, res *Result, exec *store.Execution) {
	res.Response, res.ToolCalls = "", nil
	exec.Status, exec.ErrorCode, exec.ErrorMessage, exec.MessageID = res.Status, res.Error.Code, res.Error.Message, ""
	exec.Redact()
	_, err := r.x.o.Store.UpdateExecution(ctx, r.userID, r.id, func(x *store.Execution) error {
		if store.Terminal(x.Status) {
			return errEnded
		}
		*x = *exec
		return nil
	})
	if err != nil && !errors.Is(err, errEnded) {
		// The terminal event still reaches the record subscriber, which ends it.
		r.x.o.Logger.Warn("ending the execution of a deleted conversation", "request_id", requestid.From(ctx), "execution_id", r.id, "err", err)
	}
}

func errCode(r *Result) string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

func errMsg(r *Result) string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Message
}
