package executor

import (
	"context"
	"errors"
	"strings"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/requestid"
	"github.com/chatterhq/chatter/internal/workflow"
)

// The running conversation summary (see the package comment). Its input is bounded:
// the previous summary (at most store.MaxSummaryBytes) and at most maxFoldMessages
// messages, each cut to maxFoldMessageBytes; its output by summaryMaxTokens and
// store.MaxSummaryBytes.
const (
	// maxFoldMessages is the most messages one run folds; a conversation further
	// behind (a summary cleared by a deletion, include_summary switched on late)
	// catches up over the next runs, oldest messages first.
	maxFoldMessages     = 20
	maxFoldMessageBytes = 2000
	summaryMaxTokens    = 512
	// summaryLookback is how many messages before the window the history read
	// brings along when the run may fold, so a conversation that moves on by a
	// turn at a time (two messages) folds without another read.
	summaryLookback = 4
	// summaryNote introduces the summary in the model's system prompt.
	summaryNote = "Conversation summary: "
	// emptySummary is summary_failed's code when the model answered nothing.
	emptySummary = "empty_summary"
)

// fold is what the run's one summary fold produced.
type fold struct {
	update *store.SummaryUpdate // nil: nothing to fold, or the fold failed
	usage  llm.Usage
	cost   llm.Cost
	called bool // a model call was made (its usage counts, failed or not)
	failed bool
}

// folds reports whether the run may fold the summary: its memory is on and an
// enabled memory node includes the summary.
func (r *run) folds() bool {
	if !r.memory || r.graph == nil {
		return false
	}
	for i := range r.graph.Nodes {
		v := &r.graph.Nodes[i]
		if v.Kind == workflow.KindMemory && !v.Disabled && v.Config.(*workflow.MemoryConfig).IncludeSummary {
			return true
		}
	}
	return false
}

// summaryPlan is the model the summary is written with: the first llm node's
// provider and model (as the request and node resolved them).
func (r *run) summaryPlan() *llmPlan {
	var first *llmPlan
	for i, p := range r.llms {
		if p == nil {
			continue
		}
		if !r.graph.Nodes[i].Disabled {
			return p
		}
		if first == nil {
			first = p
		}
	}
	return first
}

// firstKeptSeq is the seq of the first message the memory node keeps when it drops
// drop history messages: the next history message, else the turn's user message.
func (r *run) firstKeptSeq(drop int) int {
	if drop < len(r.st.histSeq) {
		return r.st.histSeq[drop]
	}
	return r.userMsg.Seq
}

// foldSummary folds the messages that left the window since the last summary
// (seqs SummarySeq+1 .. firstKept-1, at most maxFoldMessages of them, oldest first)
// into the summary, with one model call. On failure the run goes on without it
// (summary_failed, a warning); a later run folds the same messages.
func (r *run) foldSummary(ctx context.Context, v *workflow.Vertex, firstKept int) *fold {
	from, to := r.conv.SummarySeq, firstKept-1
	if to <= from {
		return nil
	}
	plan := r.summaryPlan()
	if plan == nil {
		return nil
	}
	msgs, err := r.toFold(ctx, from+1, to)
	if err != nil {
		r.summaryFailed(ctx, v, plan, errcode.Storage, from, to, err)
		return &fold{failed: true}
	}
	through := to
	if len(msgs) > maxFoldMessages {
		msgs = msgs[:maxFoldMessages]
		through = msgs[len(msgs)-1].Seq
	}
	turns := make([]llm.Message, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if (m.Role == llm.RoleUser || m.Role == llm.RoleAssistant) && m.Content != "" {
			turns = append(turns, llm.Message{Role: m.Role, Content: text.Shorten(m.Content, maxFoldMessageBytes)})
		}
	}
	if len(turns) == 0 { // nothing to say about them (tool-only turns): the summary just covers them
		return &fold{update: &store.SummaryUpdate{Text: r.conv.Summary, FromSeq: from, ThroughSeq: through}}
	}
	req := llm.SummaryRequest(plan.model, text.Shorten(r.conv.Summary, store.MaxSummaryBytes), turns, summaryMaxTokens)
	started := r.x.o.Now()
	var acc llm.Accumulator
	s := plan.provider.Stream(ctx, req)
	for s.Next() {
		acc.Add(s.Current())
	}
	err = s.Err()
	_ = s.Close() // the stream ended; Close only releases it
	resp := acc.Response()
	f := &fold{usage: resp.Usage, called: true}
	f.cost = r.priceCall(ctx, v.ID, plan, &acc, resp.Usage, err, r.x.since(started))
	summary := text.Shorten(strings.TrimSpace(resp.Text), store.MaxSummaryBytes)
	switch {
	case err != nil:
		r.summaryFailed(ctx, v, plan, llmErrorCode(err), from, through, nil)
		f.failed = true
	case summary == "":
		r.summaryFailed(ctx, v, plan, emptySummary, from, through, nil)
		f.failed = true
	default:
		f.update = &store.SummaryUpdate{Text: summary, FromSeq: from, ThroughSeq: through}
	}
	return f
}

// toFold returns the messages with seqs from..to (at most maxFoldMessages+1, so
// the caller can tell there are more): from the history read when it reached back
// that far, else with one more read.
func (r *run) toFold(ctx context.Context, from, to int) ([]store.Message, error) {
	l := r.loaded
	if len(l) < r.loadWindow || (len(l) > 0 && l[0].Seq <= from) {
		var out []store.Message
		for _, m := range l {
			if m.Seq >= from && m.Seq <= to {
				out = append(out, m)
			}
		}
		return out, nil
	}
	return r.x.o.Store.MessageRange(ctx, r.userID, r.convID, from, to, maxFoldMessages+1)
}

// summaryFailed reports a failed fold: a summary_failed event and a warning
// without content (err is logged only for storage errors, which quote none).
func (r *run) summaryFailed(ctx context.Context, v *workflow.Vertex, plan *llmPlan, code string, from, through int, err error) {
	emit(r, ctx, events.SummaryFailed, events.SummaryFailedData{NodeID: v.ID, Provider: plan.provider.Name(),
		Model: plan.model, ErrorCode: code, FromSeq: from, ThroughSeq: through})
	attrs := []any{"request_id", requestid.From(ctx), "execution_id", r.id, "node_id", v.ID,
		"provider", plan.provider.Name(), "model", plan.model, "error_code", code, "from_seq", from, "through_seq", through}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	r.x.o.Logger.Warn("conversation summary failed; the run goes on without it", attrs...)
}

// llmErrorCode is the provider's error code of a failed call.
func llmErrorCode(err error) string {
	var le *llm.Error
	switch {
	case errors.As(err, &le):
		return string(le.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return errcode.Timeout
	case errors.Is(err, context.Canceled):
		return errcode.Cancelled
	}
	return errcode.LLM
}
