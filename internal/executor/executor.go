package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/oklog/ulid/v2"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

// Store is the persistence the executor needs.
type Store interface {
	// LoadConversation returns the conversation and its last window messages, oldest
	// first. Returns not_found if it does not exist or belongs to someone else.
	LoadConversation(ctx context.Context, userID, convID string, window int) (*store.Conversation, []store.Message, error)
	// StartTurn stores the user message (and the conversation when new) and the
	// running execution before any model call. Returns too_large over the content cap.
	StartTurn(ctx context.Context, t store.StartTurn) error
	// FinishTurn stores the assistant message, the conversation aggregates (and the
	// new summary, when the run folded one) and the terminal execution in one
	// transaction.
	FinishTurn(ctx context.Context, userID, convID string, t store.FinishTurn) error
	// MessageRange returns the conversation's messages with seqs from..to, oldest
	// first, at most limit of them.
	MessageRange(ctx context.Context, userID, convID string, from, to, limit int) ([]store.Message, error)
	// UpdateExecution applies fn to the stored execution; status only moves forward
	// and a redacted record stays redacted. Returns not_found if it does not exist.
	UpdateExecution(ctx context.Context, userID, id string, fn func(*store.Execution) error) (*store.Execution, error)
	// GetDefinition returns a definition version (0 = latest). Returns not_found if
	// it does not exist or belongs to someone else.
	GetDefinition(ctx context.Context, userID, id string, version int) (*store.Definition, error)
	// GetTemplate returns a user template. Returns not_found likewise.
	GetTemplate(ctx context.Context, userID, id string) (*workflow.Template, error)
	// GetTemplateByName returns the user's template of that name. Returns
	// not_found likewise.
	GetTemplateByName(ctx context.Context, userID, name string) (*workflow.Template, error)
	// GetSettings returns the user's run defaults; empty when they set none.
	GetSettings(ctx context.Context, userID string) (*store.Settings, error)
	// GetExecution returns an execution; a running run reads its own record once
	// every CancelPoll to notice a cancel request. Returns not_found if it does not
	// exist.
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	// Checkpoints keep the state of runs waiting at a human node (human.go).
	store.Checkpoints
}

// Emitter receives every workflow event. Emit must not block on the network;
// Flush sends what is buffered of one execution (and only that: concurrent runs
// never wait on each other's events) and is called before Execute returns.
type Emitter interface {
	Emit(ctx context.Context, e events.Event)
	Flush(ctx context.Context, executionID string) error
}

// DiscardEvents is an Emitter that drops every event. A run given it builds none
// (it only counts them), where another emitter that drops them still gets each
// one built.
var DiscardEvents Emitter = discardEvents{}

type discardEvents struct{}

func (discardEvents) Emit(context.Context, events.Event)  {}
func (discardEvents) Flush(context.Context, string) error { return nil }

// Options configure an Executor. Store, Emitter and at least one provider are
// required.
type Options struct {
	Store     Store
	Emitter   Emitter
	Providers []llm.Provider
	// DefaultProvider is used when neither the request nor the node names one;
	// empty means the first of Providers.
	DefaultProvider string
	// DefaultModels maps a provider name to its default model id.
	DefaultModels map[string]string
	// Unavailable maps a known provider that could not be set up to the reason
	// (e.g. "OPENAI_API_KEY is not set"); asking for it is a provider_unconfigured
	// PreparationError naming what is missing.
	Unavailable map[string]string
	Tools       *tools.Registry     // nil = tools.Builtins()
	Retriever   retrieval.Retriever // nil = an empty in-memory retriever
	StepLimit   int                 // supersteps per run; default 100
	MaxRetries  int                 // retries of a model call before its first token; default 2
	RetryBase   time.Duration       // first backoff; default 250ms, doubled each retry, with jitter
	RunTimeout  time.Duration       // default 10 minutes
	// CancelPoll is how often a running run reads its record for a cancel request
	// (one GetItem per period per running execution, never one per token); default
	// 1 s.
	CancelPoll time.Duration
	// FinishReserve is kept free before the caller's deadline (a Lambda's, which its
	// context carries) for the final writes: a run that would outlast its function
	// ends `timeout` with its partial reply stored, never killed mid-write. Default 3 s.
	FinishReserve time.Duration
	// Frames keeps the SSE frames of streaming runs started with on_disconnect
	// continue (frames.go); nil refuses such runs.
	Frames store.FrameLog
	// FollowPoll is how often Follow reads while it follows a live run (one read
	// per period: the frame log, or the record when no frame came); default 1 s.
	FollowPoll    time.Duration
	MaxMessage    int // max user message bytes; default store.DefaultMaxContentBytes, at most store.MaxContentLimit
	MaxToolResult int // bytes of a tool result sent back to the model; default 32 KiB
	Now           func() time.Time
	NewID         func() string
	Logger        *slog.Logger
}

// Executor runs workflows. It is safe for concurrent use.
type Executor struct {
	o         Options
	providers map[string]llm.Provider
	blockIDs  bool // no Options.NewID: runs take their ids from one idBlock each
	noEvents  bool // Options.Emitter is DiscardEvents
	realClock bool // no Options.Now: durations read the monotonic clock alone (since)
	// specs are Options.Tools as models are told of them (toolSpecs), shared by the
	// runs that offer all of them; nothing writes to them.
	specs []llm.ToolSpec
	// runs holds the run structs Execute finished with (newRun, release): a run's
	// own state and buffers, never what its Result, records or events hold.
	runs sync.Pool
}

// New validates options and returns an Executor.
func New(o Options) (*Executor, error) {
	if o.Store == nil || o.Emitter == nil {
		return nil, errors.New("executor: Store and Emitter are required")
	}
	if len(o.Providers) == 0 {
		return nil, errors.New("executor: at least one provider is required")
	}
	x := &Executor{o: o, providers: make(map[string]llm.Provider, len(o.Providers)), noEvents: o.Emitter == DiscardEvents}
	for _, p := range o.Providers {
		x.providers[p.Name()] = p
	}
	if x.o.DefaultProvider == "" {
		x.o.DefaultProvider = o.Providers[0].Name()
	}
	if _, ok := x.providers[x.o.DefaultProvider]; !ok {
		return nil, fmt.Errorf("executor: default provider %q is not among the providers", x.o.DefaultProvider)
	}
	if x.o.Tools == nil {
		x.o.Tools = tools.Builtins()
	}
	x.specs = slices.Clip(toolSpecs(x.o.Tools))
	if x.o.Retriever == nil {
		x.o.Retriever = &retrieval.Memory{}
	}
	if x.o.StepLimit <= 0 {
		x.o.StepLimit = 100
	}
	if x.o.MaxRetries == 0 {
		x.o.MaxRetries = 2
	}
	if x.o.RetryBase <= 0 {
		x.o.RetryBase = 250 * time.Millisecond
	}
	if x.o.FinishReserve <= 0 {
		x.o.FinishReserve = 3 * time.Second
	}
	if x.o.RunTimeout <= 0 {
		x.o.RunTimeout = 10 * time.Minute
	}
	if x.o.CancelPoll <= 0 {
		x.o.CancelPoll = time.Second
	}
	if x.o.FollowPoll <= 0 {
		x.o.FollowPoll = time.Second
	}
	if x.o.MaxMessage <= 0 {
		x.o.MaxMessage = store.DefaultMaxContentBytes
	}
	if x.o.MaxToolResult <= 0 {
		x.o.MaxToolResult = 32 << 10
	}
	if x.o.Now == nil {
		x.o.Now, x.realClock = time.Now, true
	}
	if x.o.NewID == nil {
		x.blockIDs = true
		x.o.NewID = func() string { return ulid.Make().String() }
	}
	if x.o.Logger == nil {
		x.o.Logger = slog.Default()
	}
	return x, nil
}

// Execute runs one request: prepare, run, finish. On a preparation error nothing is
// stored and the Result is nil. On a runtime error or cancellation the Result is
// returned too (status failed or cancelled) with what was produced, and the error is
// a *RuntimeError or *CancelledError.
func (x *Executor) Execute(ctx context.Context, req Request, sink Sink) (*Result, error) {
	if sink == nil {
		sink = Discard
	}
	r := x.newRun(req, sink)
	if req.OnDisconnect == wire.OnDisconnectContinue && req.Mode == ModeStreaming && x.o.Frames != nil {
		// The client's going away must not end the run: keep its deadline only.
		var release context.CancelFunc
		ctx, release = detach(ctx)
		defer release()
		r.frames = newFrameLog(ctx, r)
	}
	if err := r.prepare(ctx); err != nil {
		emit(r, ctx, events.ExecutionFailed, events.ExecutionEndData{Status: store.ExecFailed,
			ErrorCode: ErrorCode(err), ErrorMessage: PublicMessage(err), Rejected: true})
		_ = x.o.Emitter.Flush(context.WithoutCancel(ctx), r.id)
		x.release(r)
		return nil, err
	}
	runCtx := r.runContext(ctx)
	r.watchCancel(runCtx)
	err := r.run(runCtx)
	runCtx.cancel()
	r.watch.stop()
	res, err := r.finish(ctx, err)
	x.release(r)
	return res, err
}

// watchCancel reads the run's record every CancelPoll until stopped and, when a
// cancel was requested, keeps the request and cancels the run: the model call
// stops (its stream honours ctx), the engine notices between supersteps, and the
// run ends cancelled naming who asked. It is a timer, not a goroutine: a run that
// ends within CancelPoll (most do) never reads its record. stop ends the watch and
// waits for a read in flight. A pooled run keeps its timer for the next one.
func (r *run) watchCancel(ctx context.Context) {
	w := &r.watch
	w.mu.Lock()
	w.r, w.ctx, w.stopped = r, ctx, false
	w.wg.Add(1)
	if w.t == nil {
		w.t = time.AfterFunc(r.x.o.CancelPoll, w.poll)
	} else {
		w.t.Reset(r.x.o.CancelPoll)
	}
	w.mu.Unlock()
}

// cancelWatch is one run's watch for a cancel request (watchCancel).
type cancelWatch struct {
	r       *run
	ctx     context.Context
	mu      sync.Mutex
	wg      sync.WaitGroup // one per scheduled read
	stopped bool
	t       *time.Timer // stopped once stop returns
}

func (w *cancelWatch) poll() {
	defer w.wg.Done()
	r := w.r
	e, err := r.x.o.Store.GetExecution(w.ctx, r.userID, r.id)
	if err == nil && e.CancelRequested && e.Status == store.ExecRunning {
		if w.ctx.Err() == nil { // the first reason the run ends is the one it reports
			r.cancelReq.Store(&cancelRequest{by: e.CancelledBy})
			r.runCtx.cancel()
		}
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && w.ctx.Err() == nil {
		w.wg.Add(1)
		w.t.Reset(r.x.o.CancelPoll)
	}
}

func (w *cancelWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	if w.t.Stop() {
		w.wg.Done() // the scheduled read will not run
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// run holds one execution's state.
type run struct {
	x    *Executor
	req  Request
	sink Sink

	id         string
	userID     string
	convID     string
	newConv    bool
	conv       *store.Conversation
	newConvRec store.Conversation // what conv points at when the run started the conversation
	startExec  store.Execution    // the running record startTurn stores
	userMsgRec store.Message      // the user message startTurn stores (userMsg, unless resumed)
	source     store.SourceRef
	graph      *workflow.Graph
	started    time.Time
	limit      time.Duration                 // the run's time limit: RunTimeout, or less before a caller's deadline
	runCtx     *deadlineCtx                  // the run's bound (runContext), cancelled by a sink error or a cancel request
	cancelReq  atomic.Pointer[cancelRequest] // the cancel request that cancelled the run (cancelWatch)
	sinkErr    error
	frames     *frameLog  // nil unless the run keeps its frames (on_disconnect continue)
	detached   error      // the sink's error once a run that keeps its frames lost its client
	llms       []*llmPlan // per vertex index; nil for non-llm vertices
	toolSet    *tools.Registry
	toolSpecs  []llm.ToolSpec
	maxTools   int
	window     int
	memory     bool            // the run's memory is on (enable_memory)
	loaded     []store.Message // what the history read returned: the window, and before it up to summaryLookback more
	// loadWindow is how many messages the history read asked for; fewer came back
	// when the conversation has no more.
	loadWindow int
	foldOnce   sync.Once
	folded     *fold
	hasRetr    bool
	handlers   []int // error handler vertices

	mu       sync.Mutex // guards seq counters and sink/emitter calls from parallel branches
	chunkSeq int
	eventSeq int

	st      state
	userMsg *store.Message
	steps   int
	log     []store.NodeRun

	began   time.Time   // when this invocation started (started, unless resumed)
	pause   *pause      // set when a human node paused the run (human.go)
	resumed *checkpoint // set when this invocation resumes a waiting run
	quiet   bool        // a resume preparing: its preparation events were emitted when the run started
	ids     []string    // the rest of the run's id block (ids.go), in idBuf
	idBuf   [runIDs]string
	idArena []byte // event ids are cut from it (eventID); guarded by mu

	watch cancelWatch // watchCancel; stopped before finish
	bufs  runBuffers  // kept across the runs of a pooled run struct
}

// runBuffers are the engine's scratch slices (loop), which nothing outside the
// run ever holds: a pooled run struct keeps them, emptied, for the next run.
type runBuffers struct {
	frontier, next, runnable, deferred []int
	outs                               []outcome
	visits                             map[int]int // state.visits
	llms                               []*llmPlan  // run.llms, pointing into plans
	plans                              []llmPlan
}

// clear drops what the buffers point at, keeping their arrays.
func (b *runBuffers) clear() {
	clear(b.outs[:cap(b.outs)])
	clear(b.visits)
	clear(b.llms[:cap(b.llms)])
	clear(b.plans[:cap(b.plans)])
	b.frontier, b.next, b.runnable, b.deferred, b.outs = b.frontier[:0], b.next[:0], b.runnable[:0], b.deferred[:0], b.outs[:0]
	b.llms, b.plans = b.llms[:0], b.plans[:0]
}

// llmPlan is an llm vertex's resolved settings.
type llmPlan struct {
	provider    llm.Provider
	model       string
	system      string
	temperature *float64
	maxTokens   int
	offerTools  bool
	specs       []llm.ToolSpec
}

// runContext bounds the run by RunTimeout from its invocation's start (the deadline
// its record states) and, when the caller has a deadline, by that deadline less
// FinishReserve, whichever comes first.
func (r *run) runContext(ctx context.Context) *deadlineCtx {
	r.limit = r.x.o.RunTimeout
	now := r.x.realNow(r.began)
	if dl, ok := ctx.Deadline(); ok {
		if left := dl.Sub(now) - r.x.o.FinishReserve; left < r.limit {
			r.limit = max(left, 0)
		}
	}
	r.runCtx = withDeadline(ctx, now.Add(r.limit))
	return r.runCtx
}

// realNow is the real time, given read, a reading of the executor's clock: read
// itself on the real clock (no second read), time.Now on a test's.
func (x *Executor) realNow(read time.Time) time.Time {
	if x.realClock {
		return read
	}
	return time.Now()
}

// since is the time elapsed from t by the executor's clock: on the real one, one read
// of the monotonic clock (time.Since) rather than the two of time.Now.
func (x *Executor) since(t time.Time) time.Duration {
	if x.realClock {
		return time.Since(t)
	}
	return x.o.Now().Sub(t)
}

func (x *Executor) newRun(req Request, sink Sink) *run {
	now := x.o.Now()
	r, _ := x.runs.Get().(*run)
	if r == nil {
		r = new(run)
	}
	// r is zero but for watch.t and bufs (new, or emptied by release): set field by
	// field, not by writing the whole struct again.
	r.x, r.req, r.sink, r.id, r.userID, r.convID = x, req, sink, req.ExecutionID, req.Input.UserID, req.Input.ConversationID
	r.started, r.began = now, now
	r.source = store.SourceRef{Kind: string(req.Source.Kind), ID: req.Source.ID, Version: req.Source.Version}
	if r.id == "" {
		r.id = r.newID()
	}
	return r
}

// release returns a finished run's struct to the pool, emptied so that it holds
// nothing of the run (its timer is stopped, its buffers cleared). A run that kept
// its frames is left to the collector: its frame log may still refer to it.
func (x *Executor) release(r *run) {
	if r.frames != nil {
		return
	}
	t, bufs := r.watch.t, r.bufs
	bufs.clear()
	*r = run{}
	r.watch.t, r.bufs = t, bufs
	x.runs.Put(r)
}

func prepErr(code, field, format string, args ...any) *PreparationError {
	return &PreparationError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// refusal is a store's refusal of what the caller sent (too_large, or invalid naming
// a field) as a PreparationError; nil for any other error.
func refusal(err error) *PreparationError {
	if err == nil {
		return nil // before errors.As: its target would escape on every run
	}
	var se *store.Error
	switch {
	case !errors.As(err, &se):
	case se.Code == errcode.TooLarge:
		return &PreparationError{Code: errcode.TooLarge, Field: se.Field, Message: se.Message, Err: err}
	case se.Code == errcode.InvalidInput && se.Field != "":
		return &PreparationError{Code: errcode.InvalidInput, Field: se.Field, Message: se.Message, Err: err}
	}
	return nil
}

// prepare resolves everything a run needs; nothing is stored here.
func (r *run) prepare(ctx context.Context) error {
	in := &r.req.Input
	cfg := &in.Config
	switch {
	case r.req.OnDisconnect != "" && r.req.OnDisconnect != wire.OnDisconnectCancel && r.req.OnDisconnect != wire.OnDisconnectContinue:
		return prepErr(errcode.InvalidInput, "on_disconnect", "on_disconnect must be %q or %q", wire.OnDisconnectCancel, wire.OnDisconnectContinue)
	case r.req.OnDisconnect == wire.OnDisconnectContinue && r.req.Mode != ModeStreaming:
		return prepErr(errcode.InvalidInput, "on_disconnect", "on_disconnect %q applies to streaming runs only", wire.OnDisconnectContinue)
	case r.req.OnDisconnect == wire.OnDisconnectContinue && r.x.o.Frames == nil:
		return prepErr(errcode.InvalidInput, "on_disconnect", "this service keeps no stream frames: on_disconnect %q is not available", wire.OnDisconnectContinue)
	case strings.TrimSpace(in.UserID) == "":
		return prepErr(errcode.InvalidInput, "user_id", "a user id is required")
	case strings.TrimSpace(in.Message) == "":
		return prepErr(errcode.InvalidInput, "message", "message must not be empty")
	case cfg.Temperature != nil && (*cfg.Temperature < 0 || *cfg.Temperature > 2):
		return prepErr(errcode.InvalidInput, "temperature", "temperature must be between 0 and 2")
	case cfg.MaxTokens < 0 || cfg.MaxTokens > 200000:
		return prepErr(errcode.InvalidInput, "max_tokens", "max_tokens must be between 0 and 200000")
	case cfg.MemoryWindow < 0 || cfg.MemoryWindow > workflow.MaxMemoryWindow:
		return prepErr(errcode.InvalidInput, "memory_window", "memory_window must be between 0 and %d", workflow.MaxMemoryWindow)
	case cfg.MaxToolCalls < 0 || cfg.MaxToolCalls > workflow.MaxToolCalls:
		return prepErr(errcode.InvalidInput, "max_tool_calls", "max_tool_calls must be between 0 and %d", workflow.MaxToolCalls)
	case len(cfg.Model) > store.MaxNameBytes: // it is kept on records and events
		return prepErr(errcode.InvalidInput, "model", "model must be at most %d bytes", store.MaxNameBytes)
	case in.ConversationID != "" && !store.ValidID(in.ConversationID):
		return prepErr(errcode.InvalidInput, "conversation_id", "conversation_id must be 1 to %d letters, digits or - _ . :", store.MaxIDLen)
	case len(cfg.DocumentIDs) > store.MaxDocumentIDs:
		return prepErr(errcode.InvalidInput, "document_ids", "at most %d document_ids", store.MaxDocumentIDs)
	case r.req.Source.Kind == SourceDefinition && r.req.Source.ID != "" && !store.ValidID(r.req.Source.ID):
		return prepErr(errcode.InvalidInput, "definition_id", "a definition id is 1 to %d letters, digits or - _ . :", store.MaxIDLen)
	case r.req.Source.Kind == SourceTemplate && len(r.req.Source.ID) > store.MaxNameBytes:
		return prepErr(errcode.InvalidInput, "template", "a template id or name is at most %d bytes", store.MaxNameBytes)
	}
	for i, id := range cfg.DocumentIDs {
		if !store.ValidID(id) {
			return prepErr(errcode.InvalidInput, fmt.Sprintf("/document_ids/%d", i), "a document id is 1 to %d letters, digits or - _ . :", store.MaxIDLen)
		}
	}
	// The store's own checks, before anything is stored: a message and metadata that
	// pass here fit their records at the start of the turn and at its end.
	if pe := refusal(store.CheckContent(in.Message, r.x.o.MaxMessage)); pe != nil {
		return pe
	}
	if pe := refusal(store.CheckMetadata(in.Metadata)); pe != nil {
		return pe
	}
	settings, err := r.x.o.Store.GetSettings(ctx, in.UserID)
	if err != nil {
		return &RuntimeError{Code: errcode.Storage, Message: "loading the user's settings", Err: err}
	}
	applySettings(cfg, settings)
	if err := r.resolveSource(ctx); err != nil {
		return err
	}
	emit(r, ctx, events.WorkflowStarted, events.WorkflowStartedData{Mode: string(r.mode()), Name: r.source.Name,
		Nodes: len(r.graph.Nodes), Message: len(in.Message)})
	if err := r.resolveTools(ctx); err != nil {
		return err
	}
	if err := r.resolveLLMs(ctx); err != nil {
		return err
	}
	if r.hasRetr {
		emit(r, ctx, events.RetrieverLoaded, events.RetrieverLoadedData{DocumentIDs: cfg.DocumentIDs,
			DocumentCount: len(cfg.DocumentIDs)})
	}
	if r.resumed != nil {
		return r.restoreRun(ctx)
	}
	return r.loadHistory(ctx)
}

func (r *run) mode() Mode {
	if r.req.Mode == "" {
		return ModeStandard
	}
	return r.req.Mode
}

func (r *run) resolveSource(ctx context.Context) error {
	src := &r.req.Source
	in := &r.req.Input
	var err error
	switch src.Kind {
	case SourceTemplate:
		if src.ID == "" {
			return prepErr(errcode.InvalidInput, "template", "a template id or name is required")
		}
		// A built-in by its id (which is its name), else the user's template by id,
		// else by name: no store read for a built-in, so a user's template that
		// took a built-in's name runs by its id.
		if src.Params == nil { // the shared graph, no copy of the template
			var ok bool
			if r.graph, ok, err = workflow.BuiltinGraph(cond.Compiler, src.ID); ok {
				r.source.ID, r.source.Name = src.ID, src.ID
				break
			}
		}
		t, ok := workflow.Builtin(src.ID)
		if !ok {
			t, err = r.x.o.Store.GetTemplate(ctx, in.UserID, src.ID)
			if errors.Is(err, store.ErrNotFound) {
				t, err = r.x.o.Store.GetTemplateByName(ctx, in.UserID, src.ID)
			}
			if err != nil {
				return r.lookupErr(err, "template", src.ID)
			}
		}
		r.source.ID, r.source.Name = t.ID, t.Name // the template resolved, when asked by name
		if src.Params == nil {
			r.graph, err = t.Graph(cond.Compiler)
			break
		}
		// The override applies to this run's copy only; a bad param is the caller's.
		if r.graph, err = workflow.CompileTemplate(t.WithParams(*src.Params), workflow.Options{ToolExists: r.toolExists, Conditions: cond.Compiler}); err != nil {
			return paramsErr(err)
		}
	case SourceDefinition:
		if src.ID == "" {
			return prepErr(errcode.InvalidInput, "definition_id", "a definition id is required")
		}
		d, gerr := r.x.o.Store.GetDefinition(ctx, in.UserID, src.ID, src.Version)
		if gerr != nil {
			return r.lookupErr(gerr, "definition", src.ID)
		}
		r.source.Version = d.Version
		r.source.Name = d.Graph.Name
		r.graph, err = workflow.Compile(&d.Graph, workflow.Options{ToolExists: r.toolExists, Conditions: cond.Compiler})
	case SourceDynamic:
		c := in.Config
		r.source.Name = "universal_chat"
		r.graph, err = workflow.DynamicGraph(cond.Compiler, workflow.Capabilities{
			Memory: boolOr(c.EnableMemory, true), Retrieval: boolOr(c.EnableRetrieval, false), Tools: boolOr(c.EnableTools, false)})
	case SourceInline:
		if src.Definition == nil {
			return prepErr(errcode.InvalidInput, "definition", "an inline definition (nodes and edges) is required")
		}
		r.source.Name = src.Definition.Name
		r.graph, err = workflow.Compile(src.Definition, workflow.Options{ToolExists: r.toolExists, Conditions: cond.Compiler})
	default:
		return prepErr(errcode.UnsupportedSource, "source", "unknown source kind %q", src.Kind)
	}
	if err != nil {
		var ve *workflow.ValidationError
		if errors.As(err, &ve) {
			return &PreparationError{Code: errcode.InvalidWorkflow, Field: "definition", Message: ve.Error(), Problems: ve.Problems, Err: err}
		}
		return &PreparationError{Code: errcode.InvalidWorkflow, Field: "definition", Message: err.Error(), Err: err}
	}
	visits := len(r.graph.Nodes) // a visit each, as most runs go
	for i := range r.graph.Nodes {
		switch r.graph.Nodes[i].Kind {
		case workflow.KindErrorHandler:
			r.handlers = append(r.handlers, i)
		case workflow.KindRetrieval:
			r.hasRetr = true
		case workflow.KindTools:
			visits += 2 // and a turn of tool calls: the tools node and the llm again
		}
	}
	r.log = make([]store.NodeRun, 0, visits)
	return nil
}

func (r *run) toolExists(name string) bool {
	return r.x.o.Tools.Has(name)
}

func (r *run) lookupErr(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &PreparationError{Code: errcode.NotFound, Field: kind, Message: fmt.Sprintf("%s %q not found", kind, id), Err: err}
	}
	return &RuntimeError{Code: errcode.Storage, Message: "loading " + kind, Err: err}
}

// paramsErr reports invalid template param overrides, each problem pointing at its
// param (/params/temperature).
func paramsErr(err error) error {
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) == 0 {
		return &PreparationError{Code: errcode.InvalidWorkflow, Field: "params", Message: err.Error(), Err: err}
	}
	msgs := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		msgs[i] = strings.TrimPrefix(p.Pointer, "/") + ": " + p.Message
	}
	return &PreparationError{Code: errcode.InvalidInput, Field: strings.TrimPrefix(ve.Problems[0].Pointer, "/"),
		Message: "invalid template params: " + strings.Join(msgs, "; "), Problems: ve.Problems, Err: err}
}

// resolveTools computes the run's tool set: the registry, narrowed by the request's
// allowed_tools, and the max_tool_calls bound.
func (r *run) resolveTools(ctx context.Context) error {
	cfg := &r.req.Input.Config
	set, err := r.x.o.Tools.Filter(cfg.AllowedTools)
	if err != nil {
		var ue *tools.UnknownToolError
		if errors.As(err, &ue) {
			return prepErr(errcode.UnknownTool, "allowed_tools", "unknown tools: %s", strings.Join(ue.Names, ", "))
		}
		return prepErr(errcode.UnknownTool, "allowed_tools", "%v", err)
	}
	if !boolOr(cfg.EnableTools, true) {
		set, _ = tools.NewRegistry()
	}
	r.maxTools = workflow.DefaultMaxToolCalls
	hasTools := false
	for i := range r.graph.Nodes {
		v := &r.graph.Nodes[i]
		if v.Kind != workflow.KindTools || v.Disabled {
			continue
		}
		hasTools = true
		tc := v.Config.(*workflow.ToolsConfig)
		r.maxTools = tc.MaxToolCalls
		if len(tc.AllowedTools) > 0 {
			// The request narrows the node's list, never widens it: an empty
			// intersection is no tools (Filter of nothing would mean all of them).
			names := set.Names()
			keep := intersect(tc.AllowedTools, names)
			switch {
			case len(keep) == 0:
				set, _ = tools.NewRegistry()
			case len(intersect(names, keep)) == len(names): // every tool of the set: the set as it is
			default:
				if set, err = set.Filter(keep); err != nil {
					return prepErr(errcode.UnknownTool, "allowed_tools", "%v", err)
				}
			}
		}
	}
	if cfg.MaxToolCalls > 0 {
		r.maxTools = cfg.MaxToolCalls
	}
	r.toolSet = set
	if !hasTools { // no llm offers tools without a tools node to run them
		return nil
	}
	if set == r.x.o.Tools {
		r.toolSpecs = r.x.specs
	} else {
		r.toolSpecs = toolSpecs(set)
	}
	emit(r, ctx, events.ToolsLoaded, events.ToolsLoadedData{Tools: set.Names()})
	return nil
}

// toolSpecs is what a model is told of the tools of set.
func toolSpecs(set *tools.Registry) []llm.ToolSpec {
	var specs []llm.ToolSpec
	for _, t := range set.Tools() {
		specs = append(specs, llm.ToolSpec{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	return specs
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// resolveLLMs resolves provider, model and settings for every llm vertex. The
// request's set values win over the node's config.
func (r *run) resolveLLMs(ctx context.Context) error {
	cfg := &r.req.Input.Config
	n := 0
	for i := range r.graph.Nodes {
		if r.graph.Nodes[i].Kind == workflow.KindLLM {
			n++
		}
	}
	b := &r.bufs
	b.plans = slices.Grow(b.plans[:0], n) // room for all: llms points into it
	b.llms = slices.Grow(b.llms[:0], len(r.graph.Nodes))[:len(r.graph.Nodes)]
	clear(b.llms)
	r.llms = b.llms
	for i := range r.graph.Nodes {
		v := &r.graph.Nodes[i]
		if v.Kind != workflow.KindLLM {
			continue
		}
		nc := v.Config.(*workflow.LLMConfig)
		name := first(cfg.Provider, nc.Provider, r.x.o.DefaultProvider)
		p, ok := r.x.providers[name]
		if !ok {
			field := "provider"
			if cfg.Provider == "" {
				field = "nodes/" + v.ID + "/provider"
			}
			if why, known := r.x.o.Unavailable[name]; known {
				return prepErr(errcode.ProviderUnconfigured, field, "provider %q is not configured: %s", name, why)
			}
			return prepErr(errcode.UnknownProvider, field, "provider %q is not configured; available: %s", name, r.x.providerNames())
		}
		model := first(cfg.Model, nc.Model, r.x.o.DefaultModels[name])
		b.plans = append(b.plans, llmPlan{provider: p, model: model, maxTokens: cfg.MaxTokens, temperature: cfg.Temperature,
			system: first(cfg.SystemPromptOverride, nc.SystemPrompt)})
		plan := &b.plans[len(b.plans)-1]
		if plan.maxTokens == 0 {
			plan.maxTokens = nc.MaxTokens
		}
		if plan.temperature == nil {
			plan.temperature = nc.Temperature
		}
		plan.offerTools = v.OffersTools
		plan.specs = r.toolSpecs
		if len(nc.Tools) > 0 {
			plan.specs = nil
			for _, s := range r.toolSpecs {
				for _, n := range nc.Tools {
					if s.Name == n {
						plan.specs = append(plan.specs, s)
					}
				}
			}
		}
		if len(plan.specs) == 0 {
			plan.offerTools = false
		}
		r.llms[i] = plan
		emit(r, ctx, events.LLMLoaded, events.LLMLoadedData{Provider: name, Model: model})
	}
	return nil
}

func (x *Executor) providerNames() string { return strings.Join(x.ProviderNames(), ", ") }

// ProviderNames lists the configured providers, in the order given.
func (x *Executor) ProviderNames() []string {
	names := make([]string, 0, len(x.o.Providers))
	for _, p := range x.o.Providers {
		names = append(names, p.Name())
	}
	return names
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// loadHistory is the one state builder: history window + the user message.
func (r *run) loadHistory(ctx context.Context) error {
	in := &r.req.Input
	r.memorySettings()
	var hist []store.Message
	if r.convID != "" && len(in.History) > 0 {
		return prepErr(errcode.InvalidInput, "conversation_id",
			"a run continuing a stored conversation takes its history from it; send no history with conversation_id")
	}
	if r.convID == "" {
		r.newConv = true
		r.convID = r.newID()
		hist = make([]store.Message, 0, len(in.History))
		for _, m := range in.History { // seq 0: held by the client, never folded into a summary
			hist = append(hist, store.Message{Role: m.Role, Content: m.Content})
		}
		hist = hist[max(len(hist)-r.window, 0):]
	} else {
		conv, msgs, err := r.x.o.Store.LoadConversation(ctx, r.userID, r.convID, r.loadWindow)
		if err != nil {
			return r.lookupErr(err, "conversation_id", r.convID)
		}
		r.conv, r.loaded = conv, msgs
		hist = msgs[max(len(msgs)-r.window, 0):]
	}
	r.st.init(r, hist)
	return nil
}

// memorySettings sets the run's memory window and how many messages its history
// read asks for.
func (r *run) memorySettings() {
	in := &r.req.Input
	r.window = workflow.DefaultMemoryWindow
	if in.Config.MemoryWindow > 0 {
		r.window = in.Config.MemoryWindow
	}
	r.memory = boolOr(in.Config.EnableMemory, true)
	if !r.memory {
		r.window = 0
	}
	r.loadWindow = r.window
	if r.folds() {
		r.loadWindow += summaryLookback
	}
}

// Model is a model a run can name, with the provider that serves it.
type Model struct {
	ID       string
	Provider string
}

// Models lists the models runs can name, provider by provider in the order the
// providers were given: each one's default model, then the price table's models
// of that provider (llm.PricedModels). An id two providers serve is listed once,
// for the first.
func (x *Executor) Models() []Model {
	var out []Model
	seen := map[string]bool{}
	for _, p := range x.o.Providers {
		name := p.Name()
		ids := llm.PricedModels(name)
		if d := x.o.DefaultModels[name]; d != "" {
			ids = append([]string{d}, ids...)
		}
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, Model{ID: id, Provider: name})
			}
		}
	}
	return out
}
