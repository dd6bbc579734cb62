// Package executor is chatter's one execution path: Execute(ctx, Request, Sink)
// prepares a run (source -> compiled graph, providers, tools, retriever, history),
// runs the graph in Pregel-style supersteps, and finishes it (persist, aggregate,
// final events). Standard and streaming modes differ only in the Sink. The store and
// event methods it needs are declared here as interfaces.
//
// Tool calls: max_tool_calls (request, else the tools node; default 5, at most 50)
// bounds the calls a run makes, counted across turns. A turn asking for more than
// remain runs the first ones in the model's order; every call past the bound gets an
// error result telling the model the limit was reached, is recorded with skipped
// "max_tool_calls" (tool call records, tool_called events, tool_result chunks) and
// is not counted in the run's tool_calls total; the llm is then called once more
// without tools. A request's allowed_tools narrow the workflow's, never widen them.
//
// Node settings (workflow.Settings): a disabled node does no work and is logged
// "disabled: skipped"; a node's timeout fails its visit with code timeout naming the
// node (an error handler takes it like any failure); a node's retries re-run it
// after a failure, up to that many times per run, before the failure goes to an
// error handler or fails the run (the failed visit stays in the node log). A tools
// node whose parallel is false runs a turn's calls one after another.
//
// Template params sent with a run apply to that run's copy of the template; an
// invalid one is an invalid_input PreparationError whose problems point at
// /params/<field>, and nothing is stored.
//
// Chunks (the SSE frames) keep chatter's types and add the predecessor's chunk
// fields so its clients parse them unchanged: error is the message string with the
// code beside it, usage also has prompt_tokens/completion_tokens, complete has the
// old metadata, and the chunks that end a run name the conversation and the stored
// message (frame.go).
//
// A user's settings (Store.GetSettings) are their own defaults: a run that sends no
// memory_window gets their base window, none gets more than their max window, and
// a run that sends no max_tool_calls gets their max total calls (see
// applySettings). They are read once per run, in prepare.
//
// The conversation summary (summary.go): a memory node whose include_summary is set
// (the default of the memory config, and so of every built-in template with memory
// and of dynamic runs) gives the model the conversation's summary, and first folds
// into it the messages that left its window since the summary was written —
// messages Conversation.SummarySeq+1 up to the one before the first it keeps. The
// fold is one model call with the run's model (the first llm node's provider and
// model, as resolved for the run), once per run, whose input is bounded: the
// previous summary (cut to store.MaxSummaryBytes) and at most 20 messages, each cut
// to 2000 bytes (a conversation further behind catches up over the next runs,
// oldest first); its answer is capped at 512 tokens and store.MaxSummaryBytes. Its
// tokens and cost count toward the run's usage like an llm node's (a token_usage
// event with the memory node's id). The new summary and what it covers are stored
// in the turn's last write (FinishTurn), only if no other turn's summary landed
// meanwhile; the history read brings the 4 messages before the window along, so a
// conversation moving on a turn at a time folds without another read. Nothing is
// folded with include_summary false, a disabled memory node, or enable_memory false
// (which also sends no summary). A fold that fails (the model call, an empty
// answer, reading the messages) leaves the run going on: the model gets the
// previous summary, which still covers what it says; a summary_failed event and a
// warning (codes, no content) say so; the next run folds those messages.
//
// Deadlines (sweep.go): a running execution records its deadline (its time limit
// plus store.DeadlineSlack) and its request's Idempotency-Key; Sweeper ends a run
// past its deadline — one whose instance died — failed with code timeout, frees
// the key and emits execution_failed, losing to any run that ends by itself.
//
// Cancel: while a run runs it reads its own record every Options.CancelPoll (1 s;
// a ticker per running execution, stopped with the run — never a read per token).
// Once a cancel was requested (store.RequestCancel, the cancel route) it cancels
// the run's context, keeping the request: the model stream stops, the engine
// stops between supersteps, the partial reply is stored incomplete, and the run
// ends cancelled (CancelledError.By, the record's cancelled_by and
// execution_cancelled's cancelled_by name who asked).
//
// Resumable streams (frames.go): a streaming run with Request.OnDisconnect
// continue is not cancelled by its client going away; it runs to its end and its
// frames go to the frame log (Options.Frames) in batches, never a write per token.
// Follow replays them after a seq and follows the live run, at most one read per
// FollowPoll; it never starts a run. Standard and cancel runs keep no frames.
package executor

import (
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
)

// SourceKind says where a run's graph comes from.
type SourceKind string

const (
	SourceTemplate   SourceKind = "template"   // built-in or user template, by id or name
	SourceDefinition SourceKind = "definition" // stored definition, by id and optional version
	SourceDynamic    SourceKind = "dynamic"    // the universal chat graph, switched by config flags
	SourceInline     SourceKind = "inline"     // nodes+edges in the request, not saved
)

// Source selects the graph to run.
type Source struct {
	Kind       SourceKind
	ID         string               // template id/name or definition id
	Version    int                  // definition version; 0 = latest
	Params     *workflow.Params     // template param overrides
	Definition *workflow.Definition // inline graph
}

// Mode is standard (one JSON answer) or streaming (chunks as they come). It is
// recorded on the execution; behaviour differs only through the Sink.
type Mode string

const (
	ModeStandard  Mode = "standard"
	ModeStreaming Mode = "streaming"
)

// Config holds the per-request knobs (the wire type: the predecessor's field names).
// Zero values mean "not set": the node config, then the template params, then the
// service defaults apply. Set values win over node configs.
type Config = wire.RunConfig

// applySettings fills in the user's own defaults (store.Settings, set through the
// predecessor's configure routes): base_window_size is the memory_window of a run
// that sends none and max_window_size caps any; max_total_calls is the
// max_tool_calls of a run that sends none. The other settings are kept, not used.
func applySettings(c *Config, s *store.Settings) {
	if m := s.Memory; m != nil {
		if c.MemoryWindow == 0 {
			c.MemoryWindow = m.BaseWindowSize
		}
		if m.MaxWindowSize > 0 && c.MemoryWindow > m.MaxWindowSize {
			c.MemoryWindow = m.MaxWindowSize
		}
	}
	if t := s.Tools; t != nil && c.MaxToolCalls == 0 {
		c.MaxToolCalls = t.MaxTotalCalls
	}
}

// Input is what the user sent.
type Input struct {
	Message        string
	ConversationID string // empty starts a new conversation
	UserID         string
	Config         Config
	Metadata       map[string]any
	// History is the earlier turns a client holds itself (the OpenAI-compatible
	// route's messages before the last user message), for a new conversation only:
	// the model sees them before Message as it would a stored history (user and
	// assistant text, the same memory window), and they are not stored — the
	// conversation begins with this turn. With ConversationID set it is refused.
	History []llm.Message
}

// Request is one Execute call.
type Request struct {
	Source Source
	Input  Input
	Mode   Mode
	// ExecutionID may be preassigned by the caller (e.g. to return it before the run
	// ends); empty means a new ULID.
	ExecutionID string
	// Idempotency names the Idempotency-Key record of the request that started the
	// run, if any: it is kept on the execution so that a sweep ending the run
	// (deadline passed, its instance gone) releases the key.
	Idempotency *store.IdempotencyRef
	// OnDisconnect is wire.OnDisconnectCancel ("" too) or wire.OnDisconnectContinue
	// (streaming runs only): see frames.go.
	OnDisconnect string
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
