package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/fromstore"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow"
)

// exec runs one vertex against the current state (read-only) and returns the effect
// to apply.
func (r *run) exec(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	if v.Disabled { // enabled false: no work, the run goes on along the node's edges
		o.detail = "disabled: skipped"
		return nil, nil
	}
	switch v.Kind {
	case workflow.KindStart, workflow.KindEnd, workflow.KindConditional:
		return nil, nil
	case workflow.KindLLM:
		return r.execLLM(ctx, v, o)
	case workflow.KindTools:
		return r.execTools(ctx, v, o)
	case workflow.KindMemory:
		return r.execMemory(ctx, v, o)
	case workflow.KindRetrieval:
		return r.execRetrieval(ctx, v, o)
	case workflow.KindLoop:
		return r.execLoop(ctx, v, o)
	case workflow.KindVariable:
		return r.execVariable(v, o)
	case workflow.KindErrorHandler:
		return r.execErrorHandler(ctx, v, o)
	case workflow.KindDelay:
		return r.execDelay(ctx, v, o)
	case workflow.KindHuman:
		o.wait, o.detail = true, "waiting for a person"
		return nil, nil
	}
	return nil, fmt.Errorf("node kind %q has no executor", v.Kind)
}

func (r *run) execLLM(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	plan := r.llms[v.Index]
	st := &r.st
	// A new request each call, as the messages: a provider may keep what it was sent.
	req := &llm.Request{Model: plan.model, System: st.system(plan.system), Messages: st.msgs,
		Temperature: plan.temperature, MaxTokens: plan.maxTokens}
	offered := plan.offerTools && st.toolCalls < r.maxTools
	if offered {
		req.Tools = plan.specs
	}
	sep := ""
	if st.reply.Len() > 0 {
		sep = "\n\n"
	}
	var acc llm.Accumulator
	var err error
	started := o.start // the visit's start: one clock read fewer (the node's own setup is in the call's time)
	for attempt := 0; ; attempt++ {
		acc = llm.Accumulator{}
		err = r.streamOnce(ctx, plan.provider, req, v, sep, &acc)
		if err == nil || acc.Started() || !llm.IsRetryable(err) || attempt >= r.x.o.MaxRetries {
			break
		}
		wait, ok := retryWait(ctx, err, backoff(r.x.o.RetryBase, attempt))
		if !ok {
			break // the provider asks for longer than the run may wait: fail now
		}
		if werr := sleep(ctx, wait); werr != nil {
			err = werr
			break
		}
	}
	resp := acc.Response()
	if !offered {
		resp.ToolCalls = nil // the finalize step offers no tools; ignore stray calls
	}
	cost := r.priceCall(ctx, v.ID, plan, &acc, resp.Usage, err, r.x.since(started))
	if len(resp.ToolCalls) > 0 {
		o.detail = strconv.Itoa(len(resp.ToolCalls)) + " tool call(s)"
	} else if !offered && plan.offerTools {
		o.detail = "finalize: tools withheld after max_tool_calls"
	}
	return func(s *state) error {
		if resp.Text != "" {
			s.reply.add(resp.Text)
			s.lastText = resp.Text
		}
		if resp.Text != "" || len(resp.ToolCalls) > 0 {
			s.msgs = append(s.msgs, llm.Message{Role: llm.RoleAssistant, Content: resp.Text, ToolCalls: resp.ToolCalls})
		}
		s.pending = resp.ToolCalls
		if resp.FinishReason != "" {
			s.finish = resp.FinishReason
		}
		s.addUsage(resp.Usage, cost)
		s.provider, s.model = plan.provider.Name(), plan.model
		return nil
	}, err
}

// priceCall is the cost of one model call (llm node or summary) of node nodeID,
// reported with its usage in a token_usage event.
func (r *run) priceCall(ctx context.Context, nodeID string, plan *llmPlan, acc *llm.Accumulator, usage llm.Usage, err error, dur time.Duration) llm.Cost {
	cost := llm.ComputeCost(plan.provider.Name(), plan.model, usage)
	if !acc.ReportedUsage() && (err == nil || acc.Started()) {
		// The model produced a reply but its provider never said what it used: the
		// cost is unknown, not $0. A call refused before any output (a 429) cost nothing.
		cost = llm.Cost{TableVersion: cost.TableVersion}
	}
	if usage != (llm.Usage{}) {
		emit(r, ctx, events.TokenUsage, events.TokenUsageData{NodeID: nodeID, Provider: plan.provider.Name(), Model: plan.model,
			Usage: *fromstore.Usage(usage, cost.USD, cost.Known), DurationMS: ms(dur)})
	}
	return cost
}

// streamOnce makes one model call, forwarding text to the sink as it arrives.
func (r *run) streamOnce(ctx context.Context, p llm.Provider, req *llm.Request, v *workflow.Vertex, sep string, acc *llm.Accumulator) error {
	s := p.Stream(ctx, req)
	defer s.Close()
	for s.Next() {
		d := s.Current()
		if d.Kind == llm.DeltaText && d.Text != "" {
			if !acc.Started() && sep != "" {
				r.send(wire.Chunk{Type: wire.ChunkToken, NodeID: v.ID, Content: sep})
			}
			r.send(wire.Chunk{Type: wire.ChunkToken, NodeID: v.ID, Content: d.Text})
		}
		acc.Add(d)
	}
	return s.Err()
}

// retryWait is the pause before retrying a call that failed with err: the
// provider's Retry-After when it gave one, else the backoff. It reports false when
// that wait exceeds llm.MaxRetryAfter or would end past ctx's deadline (the run's),
// where waiting would only turn the provider's error into a timeout.
func retryWait(ctx context.Context, err error, backoff time.Duration) (time.Duration, bool) {
	wait := backoff
	if ra := llm.RetryAfterOf(err); ra > 0 {
		if ra > llm.MaxRetryAfter {
			return 0, false
		}
		wait = ra
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return 0, false
	}
	return wait, true
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := base << attempt
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // jitter in [d/2, d]
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// execTools runs the pending tool calls, at most max_tool_calls per run in all: the
// first ones the run has left, in the order the model gave them, run; each call
// past the bound is not run and gets an error result saying the limit was reached
// (the model must get a result for every call id it issued, or providers refuse
// the next request), recorded as skipped. Once the bound is reached, the llm's next
// call is the tool-free finalize step.
func (r *run) execTools(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	calls := r.st.pending
	if len(calls) == 0 {
		o.detail = "no tool calls"
		return func(s *state) error { s.pending = nil; return nil }, nil
	}
	cfg := v.Config.(*workflow.ToolsConfig)
	timeout := time.Duration(cfg.TimeoutMS) * time.Millisecond
	run := min(len(calls), max(r.maxTools-r.st.toolCalls, 0))
	results := make([]tools.Result, len(calls))
	announce := func(c llm.ToolCall) {
		r.send(wire.Chunk{Type: wire.ChunkToolCall, NodeID: v.ID, Tool: &wire.ToolChunk{CallID: c.ID, Name: c.Name, Arguments: string(c.Arguments)}})
	}
	call := func(i int) {
		c := calls[i]
		announce(c)
		var res tools.Result
		if !r.toolSet.Has(c.Name) {
			res = tools.Result{IsError: true, Content: fmt.Sprintf("tool %q is not available", c.Name)}
		} else {
			tctx := withDeadline(ctx, time.Now().Add(timeout))
			res = r.toolSet.Call(tctx, c.Name, c.Arguments)
			// The registry sees the node's deadline as a cancellation; tell the model
			// it was a timeout, so it does not take the run for cancelled.
			if res.IsError && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
				res.Content = fmt.Sprintf("tool %q timed out after %s", c.Name, timeout)
			}
			tctx.cancel()
		}
		res.Content = text.Shorten(res.Content, r.x.o.MaxToolResult)
		results[i] = res
		r.toolResult(ctx, v, c, res, "")
	}
	if run == 1 || !cfg.Parallel {
		for i := range run {
			call(i)
		}
	} else {
		var wg sync.WaitGroup
		for i := range run {
			wg.Go(func() { call(i) })
		}
		wg.Wait()
	}
	skipped := tools.Result{IsError: true, Content: fmt.Sprintf(
		"not run: the limit of %d tool calls for this run was reached; answer with the results you have", r.maxTools)}
	for i := run; i < len(calls); i++ {
		c := calls[i]
		announce(c)
		results[i] = skipped
		r.toolResult(ctx, v, c, skipped, store.SkippedMaxToolCalls)
	}
	o.detail = strconv.Itoa(run) + " tool call(s)"
	if run < len(calls) {
		o.detail += fmt.Sprintf(", %d skipped: max_tool_calls %d reached", len(calls)-run, r.maxTools)
	}
	return func(s *state) error {
		for i, c := range calls {
			res := results[i]
			why := ""
			if i >= run {
				why = store.SkippedMaxToolCalls
			}
			s.msgs = append(s.msgs, llm.Message{Role: llm.RoleTool, ToolCallID: c.ID, Name: c.Name, Content: res.Content, IsError: res.IsError})
			s.records = append(s.records, store.ToolCallRecord{ID: c.ID, Name: c.Name, Arguments: c.Arguments,
				Result: res.Content, IsError: res.IsError, Skipped: why, DurationMS: ms(res.Duration)})
		}
		s.toolCalls += run
		s.pending = nil
		return nil
	}, ctx.Err()
}

// toolResult reports one call's outcome to the sink and the event trail; skipped
// is why the call was not made, empty when it ran.
func (r *run) toolResult(ctx context.Context, v *workflow.Vertex, c llm.ToolCall, res tools.Result, skipped string) {
	r.send(wire.Chunk{Type: wire.ChunkToolResult, NodeID: v.ID, Tool: &wire.ToolChunk{CallID: c.ID, Name: c.Name, Result: res.Content,
		IsError: res.IsError, Skipped: skipped, DurationMS: ms(res.Duration)}})
	emit(r, ctx, events.ToolCalled, events.ToolCalledData{NodeID: v.ID, CallID: c.ID, Tool: c.Name, IsError: res.IsError,
		Skipped: skipped, DurationMS: ms(res.Duration)})
}

// execMemory keeps the last Window history messages and, with include_summary,
// gives the model the conversation summary — first folding into it the messages
// that left the window since it was written (once per run; see summary.go).
func (r *run) execMemory(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	cfg := v.Config.(*workflow.MemoryConfig)
	keep := min(r.st.histLen, cfg.Window)
	o.detail = fmt.Sprintf("%d history message(s)", keep)
	if !cfg.IncludeSummary || !r.memory || r.conv == nil {
		return func(s *state) error {
			s.trimHistory(cfg.Window)
			s.summary = ""
			return nil
		}, nil
	}
	firstKept := r.firstKeptSeq(r.st.histLen - keep)
	r.foldOnce.Do(func() { r.folded = r.foldSummary(ctx, v, firstKept) })
	f := r.folded
	summary := r.conv.Summary
	switch {
	case f == nil:
	case f.update != nil:
		summary = f.update.Text
		o.detail += fmt.Sprintf(", summary through message %d", f.update.ThroughSeq)
	case f.failed && summary != "":
		o.detail += ", summary failed: the previous one is used"
	case f.failed:
		o.detail += ", summary failed"
	}
	note := ""
	if summary != "" {
		note = summaryNote + summary
	}
	return func(s *state) error {
		s.trimHistory(cfg.Window)
		s.summary = note
		if f != nil && !s.foldCounted {
			s.foldCounted = true
			s.newSummary = f.update
			if f.called {
				s.addUsage(f.usage, f.cost)
			}
		}
		return nil
	}, nil
}

func (r *run) execRetrieval(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	cfg := v.Config.(*workflow.RetrievalConfig)
	docs := r.req.Input.Config.DocumentIDs
	if len(docs) == 0 {
		docs = cfg.DocumentIDs
	}
	ps, err := r.x.o.Retriever.Retrieve(ctx, retrieval.Query{UserID: r.userID, Text: r.req.Input.Message,
		DocumentIDs: docs, TopK: cfg.TopK, MinScore: cfg.MinScore})
	if err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	o.detail = strconv.Itoa(len(ps)) + " passage(s)"
	if len(ps) > 0 {
		r.send(wire.Chunk{Type: wire.ChunkSources, NodeID: v.ID, Sources: ps})
	}
	note := retrievalNote(ps)
	return func(s *state) error {
		s.sources = append(s.sources, ps...)
		if note != "" {
			s.context = note
		}
		return nil
	}, nil
}

// retrievalNote is what the model is told of a retrieval: each passage numbered,
// with its document and chunk, so the answer can cite [n]; or, when nothing
// matched, that it must not invent document content.
func retrievalNote(ps []retrieval.Passage) string {
	if len(ps) == 0 {
		return "No passage of the user's documents matches this message. Do not make up document content or " +
			"citations; if the answer needs the documents, say they do not cover it."
	}
	var b strings.Builder
	b.WriteString("Context: passages from the user's documents. Cite a passage by its number, like [1].\n")
	for i, p := range ps {
		fmt.Fprintf(&b, "[%d] %s (document %s", i+1, p.Title, p.DocumentID)
		if p.ChunkID != "" {
			fmt.Fprintf(&b, ", chunk %s", p.ChunkID)
		}
		fmt.Fprintf(&b, ")\n%s\n", p.Text)
	}
	return b.String()
}

func (r *run) execLoop(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	cfg := v.Config.(*workflow.LoopConfig)
	iter := 1
	if li := r.st.loops[v.ID]; li != nil {
		iter = li.Iteration + 1
	}
	cont := iter <= cfg.MaxIterations
	if cont && v.Cond != nil {
		ok, err := v.Cond.Eval(ctx, &r.st.env)
		if err != nil {
			return nil, conditionError(v.ID, &workflow.ConditionError{NodeID: v.ID, Err: err})
		}
		cont = ok
	}
	o.detail = fmt.Sprintf("iteration %d of %d, continue=%t", iter, cfg.MaxIterations, cont)
	return func(s *state) error {
		if s.loops == nil {
			s.loops = map[string]*workflow.LoopInfo{}
		}
		li := s.loops[v.ID]
		if li == nil {
			li = &workflow.LoopInfo{}
			s.loops[v.ID] = li
		}
		li.MaxIterations, li.Continue = cfg.MaxIterations, cont
		li.Iteration = iter
		if !cont {
			li.Iteration = 0 // a later entry starts afresh (nested loops)
		}
		return nil
	}, nil
}

func (r *run) execVariable(v *workflow.Vertex, o *outcome) (effect, error) {
	cfg := v.Config.(*workflow.VariableConfig)
	o.detail = cfg.Operation + " " + cfg.Name
	return func(s *state) error {
		cur, exists := s.vars[cfg.Name]
		switch cfg.Operation {
		case workflow.VarSet:
			s.vars[cfg.Name] = cfg.Value
		case workflow.VarGet:
			target := cfg.Target
			if target == "" {
				target = "value"
			}
			s.vars[target] = cur
		case workflow.VarAppend:
			switch c := cur.(type) {
			case nil:
				s.vars[cfg.Name] = []any{cfg.Value}
			case []any:
				// Clip: the list may share its array with the definition's variables,
				// which other runs of the same definition read.
				s.vars[cfg.Name] = append(slices.Clip(c), cfg.Value)
			case string:
				s.vars[cfg.Name] = c + fmt.Sprint(cfg.Value)
			default:
				return fmt.Errorf("variable %q is %T; append needs a list or a string", cfg.Name, cur)
			}
		case workflow.VarIncrement, workflow.VarDecrement:
			n := 0.0
			if exists && cur != nil {
				f, ok := number(cur)
				if !ok {
					return fmt.Errorf("variable %q is %T, not a number", cfg.Name, cur)
				}
				n = f
			}
			if cfg.Operation == workflow.VarIncrement {
				n += cfg.Amount
			} else {
				n -= cfg.Amount
			}
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				s.vars[cfg.Name] = int(n)
			} else {
				s.vars[cfg.Name] = n
			}
		}
		return nil
	}, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// execErrorHandler retries the failed vertex up to retry_count times, then applies
// the fallback: continue (errors stay in the result), clear_errors, or stop.
func (r *run) execErrorHandler(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	cfg := v.Config.(*workflow.ErrorHandlerConfig)
	st := &r.st
	if len(st.errors) <= st.handled {
		o.detail = "no errors"
		return nil, nil
	}
	used := st.retries[v.Index]
	if used < cfg.RetryCount && st.lastFail >= 0 {
		if err := sleep(ctx, time.Duration(cfg.RetryDelayMS)*time.Millisecond); err != nil {
			return nil, err
		}
		failed := st.lastFail
		o.jump = failed
		o.detail = fmt.Sprintf("retry %d of %d: %s", used+1, cfg.RetryCount, r.graph.Nodes[failed].ID)
		return func(s *state) error {
			if s.retries == nil {
				s.retries = map[int]int{}
			}
			s.retries[v.Index]++
			s.errors = s.errors[:len(s.errors)-1] // the retry replaces the failure
			s.lastFail = -1
			return nil
		}, nil
	}
	last := st.errors[len(st.errors)-1]
	o.detail = "fallback " + cfg.FallbackAction
	switch cfg.FallbackAction {
	case workflow.FallbackStop:
		return nil, &RuntimeError{Code: errcode.NodeFailed, NodeID: r.graph.Nodes[max(st.lastFail, 0)].ID,
			Message: "stopped by error handler " + v.ID + ": " + last}
	case workflow.FallbackClearErrors:
		return func(s *state) error {
			s.errors, s.handled, s.lastFail = s.errors[:0], 0, -1
			return nil
		}, nil
	default:
		return func(s *state) error { s.handled, s.lastFail = len(s.errors), -1; return nil }, nil
	}
}

func (r *run) execDelay(ctx context.Context, v *workflow.Vertex, o *outcome) (effect, error) {
	cfg := v.Config.(*workflow.DelayConfig)
	d := time.Duration(cfg.DurationMS) * time.Millisecond
	switch cfg.Type {
	case workflow.DelayRandom:
		d = time.Duration(rand.Int64N(int64(d) + 1))
	case workflow.DelayExponential:
		d = time.Duration(float64(d) * math.Pow(cfg.Factor, float64(r.st.visits[v.Index])))
	}
	if max := time.Duration(cfg.MaxDurationMS) * time.Millisecond; d > max {
		d = max
	}
	o.detail = "slept " + d.String()
	if err := sleep(ctx, d); err != nil {
		return nil, err
	}
	return nil, nil
}
