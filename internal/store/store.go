// Package store holds chatter's persistent domain types (conversations, messages,
// definitions, templates, executions) and their storage. Every record is keyed by
// its owner first, so a lookup with another user's id finds nothing. Memory is an
// in-memory implementation used by offline runs and logic tests; the DynamoDB
// implementation lives in a sub-package and passes the same suite.
//
// Deleting a conversation removes its content everywhere it is stored, for good:
// messages and kept Idempotency-Key answers are deleted, executions redacted (see
// Execution.Redact, which owns what counts as content).
//
// Every record is fitted to its DynamoDB item before every write, by one accounting
// (fit.go): what a run produced is cut to its budget with text.Marker — a reply over
// the content cap is stored cut and marked incomplete, tool call arguments and
// results keep their longest prefixes that fit — while what a caller sent (a user
// message over the cap, metadata over MaxMetadataBytes) is refused as too_large
// naming the field, before anything is stored.
//
// Deleting one message (DeleteMessage) removes it and, likewise, the copies of its
// content: the execution of its turn is redacted, the answers kept for the
// conversation's Idempotency-Keys are deleted (any of them may quote it; a retry of
// such a request then runs anew), and the conversation's running summary is
// cleared when it covers the message (ForgetSummaryOf; runs rebuild it). message_count drops by one and last_message_at
// becomes that of the newest message left (the creation time when none is left).
// total_tokens and total_cost stay: they count what the conversation's runs used,
// which a deletion does not undo (the executions keep their usage too). Seqs are
// never reused. A message whose turn is still running cannot be deleted (conflict):
// the turn's last write would bring its content back.
//
// Rating a message (RateMessage) stores the owner's latest rating on it (0 to 5; a
// new rating replaces the last) and counts the ratings given (rating_count).
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Error is a store error with a stable code. Field names the request field at fault
// when a caller's input was refused (too_large "metadata", say), else it is empty.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is matches errors by code, so errors.Is(err, store.ErrNotFound) works for any
// not_found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNotFound = &Error{Code: errcode.NotFound}
	ErrConflict = &Error{Code: errcode.Conflict}
	ErrTooLarge = &Error{Code: errcode.TooLarge}
)

// NotFound builds a not_found error for a kind of record.
func NotFound(kind, id string) error {
	return &Error{Code: errcode.NotFound, Message: fmt.Sprintf("%s %q not found", kind, id)}
}

// CodeOf returns the store error code of err, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// DefaultMaxContentBytes caps one message's content (UTF-8 bytes) unless a store is
// configured otherwise (up to MaxContentLimit).
const DefaultMaxContentBytes = 100 * 1024

// Conversation is a chat thread owned by one user.
type Conversation struct {
	ID           string  `json:"id"`
	UserID       string  `json:"user_id"`
	Title        string  `json:"title"`
	Version      int64   `json:"version"`
	MessageCount int     `json:"message_count"`
	TotalTokens  int     `json:"total_tokens"`
	TotalCost    float64 `json:"total_cost"`
	// LastMessageAt is the time of the last message, or of the creation while there
	// is none; lists order by it.
	LastMessageAt time.Time `json:"last_message_at"`
	// Summary is the conversation's running summary: its owner may set it, and a
	// run whose memory node includes it folds the messages that left the memory
	// window into it (see SummaryUpdate). SummarySeq is the seq of the last message
	// it covers: every message up to it has been folded in, none after it; 0 when
	// no run has summarised yet.
	Summary    string    `json:"summary,omitempty"`
	SummarySeq int       `json:"summary_through_seq,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// LastSeq is the seq of the last message stored; the next one gets LastSeq+1.
	// It only grows: deleting a message lowers MessageCount, never LastSeq, so no
	// seq is ever given twice.
	LastSeq int `json:"last_seq"`
	// Provider and Model are those of the conversation's last finished run.
	Provider string `json:"llm_provider,omitempty"`
	Model    string `json:"llm_model,omitempty"`
	// Status is ConvActive, ConvArchived or ConvDeleted, set by the owner; empty
	// reads as active.
	Status   string               `json:"status,omitempty"`
	Settings ConversationSettings `json:"settings"`
}

// Conversation statuses (the predecessor's ConversationStatus). "deleted" is a label
// the owner may set like "archived"; DELETE removes a conversation for good.
const (
	ConvActive   = "active"
	ConvArchived = "archived"
	ConvDeleted  = "deleted"
)

// ConversationStatuses lists the statuses a conversation may have.
var ConversationStatuses = []string{ConvActive, ConvArchived, ConvDeleted}

// ConversationSettings is what a conversation's owner sets when creating or
// updating it: the predecessor's ConversationCreate and ConversationUpdate fields
// beside the title (and tags, chatter's addition). They are stored and returned;
// runs take their configuration from the run's request.
type ConversationSettings struct {
	Description     string         `json:"description,omitempty"`
	ProfileID       string         `json:"profile_id,omitempty"`
	SystemPrompt    *string        `json:"system_prompt,omitempty"`
	EnableRetrieval bool           `json:"enable_retrieval,omitempty"`
	Temperature     *float64       `json:"temperature,omitempty"`
	MaxTokens       *int           `json:"max_tokens,omitempty"`
	Tags            []string       `json:"tags,omitempty"`
	ExtraMetadata   map[string]any `json:"extra_metadata,omitempty"`
	WorkflowConfig  map[string]any `json:"workflow_config,omitempty"`
}

// MaxConversationSettingsBytes bounds a conversation's title and settings, encoded.
const MaxConversationSettingsBytes = 64 << 10

// StatusOrActive is the conversation's status, active when none was set.
func (c *Conversation) StatusOrActive() string {
	if c.Status == "" {
		return ConvActive
	}
	return c.Status
}

// ApplyOwnerChanges copies onto c what a conversation's owner may change — title,
// summary, status and settings — from next. Ids, counters, aggregates and the last
// run's provider belong to the turns and are never taken from next.
func (c *Conversation) ApplyOwnerChanges(next *Conversation) {
	c.Title, c.Summary, c.Status, c.Settings = next.Title, next.Summary, next.Status, next.Settings.clone()
}

func (s ConversationSettings) clone() ConversationSettings {
	b, _ := json.Marshal(s) // plain JSON values: always marshals
	var out ConversationSettings
	_ = json.Unmarshal(b, &out)
	return out
}

// CheckConversation validates what an owner set on c: a known status, UTF-8 text,
// and title and settings within MaxConversationSettingsBytes. Returns invalid or
// too_large.
func CheckConversation(c *Conversation) error {
	if c.Status != "" && !slices.Contains(ConversationStatuses, c.Status) {
		return Invalid("status must be one of %s", strings.Join(ConversationStatuses, ", "))
	}
	for _, t := range append([]string{c.Title, c.Summary, c.Settings.Description, c.Settings.ProfileID}, c.Settings.Tags...) {
		if !utf8.ValidString(t) {
			return Invalid("conversation text is not valid UTF-8")
		}
	}
	b, err := json.Marshal(struct {
		T string               `json:"t"`
		S ConversationSettings `json:"s"`
	}{c.Title + c.Summary, c.Settings})
	if err != nil {
		return Invalid("conversation settings: %v", err)
	}
	if len(b) > MaxConversationSettingsBytes {
		return &Error{Code: errcode.TooLarge, Message: fmt.Sprintf("conversation title and settings are %d bytes encoded; at most %d allowed",
			len(b), MaxConversationSettingsBytes)}
	}
	return nil
}

// PrepareConversation checks a conversation created without messages and sets what
// the store owns: version 1, no messages, LastMessageAt (and UpdatedAt) its
// creation time. Returns invalid or too_large.
func PrepareConversation(c *Conversation, now time.Time) error {
	if c == nil || c.ID == "" || c.UserID == "" {
		return Invalid("a conversation needs an id and a user id")
	}
	if err := CheckConversation(c); err != nil {
		return err
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.Version, c.MessageCount, c.LastSeq, c.TotalTokens, c.TotalCost = 1, 0, 0, 0, 0
	c.LastMessageAt, c.UpdatedAt, c.Provider, c.Model = c.CreatedAt, c.CreatedAt, "", ""
	return nil
}

// MaxSummaryBytes caps the summary a run stores (SummaryUpdate.Text is cut to it
// with text.Shorten); it is also the most of a previous summary a run folds.
const MaxSummaryBytes = 4 << 10

// SummaryUpdate is a run's new running summary, stored with its turn's last write
// (FinishTurn): Text folds the messages FromSeq+1..ThroughSeq into the summary that
// covered 1..FromSeq. It is stored only if the conversation's SummarySeq is still
// FromSeq (else another turn's summary landed first and this one is dropped: the
// next turn folds onto that one, so no message is summarised twice or skipped) and
// ThroughSeq advances it without passing the last message. The store sets Stored
// when it wrote it.
type SummaryUpdate struct {
	Text       string
	FromSeq    int
	ThroughSeq int
	Stored     bool
}

// SummaryApplies reports whether u may be stored on a conversation whose summary
// covers messages up to summarySeq and whose last message is lastSeq.
func SummaryApplies(u *SummaryUpdate, summarySeq, lastSeq int) bool {
	return u != nil && u.FromSeq == summarySeq && u.ThroughSeq > u.FromSeq && u.ThroughSeq <= lastSeq
}

// PrepareSummary fits u's text to its record: valid UTF-8, at most MaxSummaryBytes.
// A summary is what a run produced, so it is cut, never refused.
func PrepareSummary(u *SummaryUpdate) {
	if u != nil {
		u.Text = text.Shorten(strings.ToValidUTF8(u.Text, string(utf8.RuneError)), MaxSummaryBytes)
	}
}

// ForgetSummaryOf clears the running summary when it covers the message seq (a
// message being deleted): the summary may quote it, and deleting a message removes
// its content everywhere. The next runs rebuild the summary from the messages left.
// Reports whether it cleared it.
func (c *Conversation) ForgetSummaryOf(seq int) bool {
	if seq > c.SummarySeq {
		return false
	}
	c.Summary, c.SummarySeq = "", 0
	return true
}

// TurnRunning is the conflict of deleting a message whose turn is still running.
func TurnRunning(msgID string) error {
	return Conflict("the turn of message %q is still running; delete it once the run has ended", msgID)
}

// CheckRating returns invalid unless rating is within MinRating..MaxRating.
func CheckRating(rating float64) error {
	if !(rating >= MinRating && rating <= MaxRating) { // NaN fails too
		return Invalid("rating must be from %g to %g", MinRating, MaxRating)
	}
	return nil
}

// Message statuses.
const (
	StatusComplete   = "complete"
	StatusIncomplete = "incomplete"
)

// ToolCallRecord is one tool call of a turn with its result (the wire shape).
type ToolCallRecord = wire.ToolCall

// SkippedMaxToolCalls is the Skipped reason of a call past the run's max_tool_calls.
const SkippedMaxToolCalls = "max_tool_calls"

// Message is one stored message. Seq orders a conversation's messages from 1.
type Message struct {
	ID             string           `json:"id"`
	ConversationID string           `json:"conversation_id"`
	UserID         string           `json:"user_id"`
	ExecutionID    string           `json:"execution_id,omitempty"`
	Seq            int              `json:"seq"`
	Role           llm.Role         `json:"role"`
	Content        string           `json:"content"`
	ToolCalls      []ToolCallRecord `json:"tool_calls,omitempty"`
	// Sources are the passages the reply drew on (retrieval), fitted to
	// MaxSourcesBytes: the cited document, chunk, score and passage.
	Sources        []wire.Passage `json:"sources,omitempty"`
	Status         string         `json:"status"`
	InputTokens    int            `json:"input_tokens,omitempty"`
	OutputTokens   int            `json:"output_tokens,omitempty"`
	Cost           float64        `json:"cost,omitempty"`
	CostKnown      bool           `json:"cost_known,omitempty"`
	Provider       string         `json:"provider,omitempty"`
	Model          string         `json:"model,omitempty"`
	ResponseTimeMS float64        `json:"response_time_ms,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	// Rating is the owner's latest rating of the message (0 to 5), nil until rated;
	// RatingCount counts the ratings given.
	Rating      *float64 `json:"rating,omitempty"`
	RatingCount int      `json:"rating_count,omitempty"`
}

// Message ratings range from MinRating to MaxRating (the predecessor's scale).
const (
	MinRating = 0.0
	MaxRating = 5.0
)

// Execution statuses. Status only moves forward: running -> terminal, except that
// a run waiting for a person (a human node) goes back to running when resumed.
const (
	ExecRunning = "running"
	// ExecWaiting: the run reached a human node and stopped until a person resumes
	// it or its deadline (the node's timeout) passes.
	ExecWaiting   = "waiting"
	ExecCompleted = "completed"
	ExecFailed    = "failed"
	ExecCancelled = "cancelled"
)

// ExecStatuses lists every execution status (the status filter of the list routes).
var ExecStatuses = []string{ExecRunning, ExecWaiting, ExecCompleted, ExecFailed, ExecCancelled}

// SourceRef names what an execution ran (the wire shape).
type SourceRef = wire.SourceRef

// Execution is the record of one run.
type Execution struct {
	ID              string           `json:"id"`
	UserID          string           `json:"user_id"`
	ConversationID  string           `json:"conversation_id"`
	Source          SourceRef        `json:"source"`
	Mode            string           `json:"mode"`
	Status          string           `json:"status"`
	StartedAt       time.Time        `json:"started_at"`
	FinishedAt      time.Time        `json:"finished_at,omitzero"`
	DurationMS      float64          `json:"duration_ms,omitempty"`
	Usage           llm.Usage        `json:"usage"`
	Cost            float64          `json:"cost"`
	CostKnown       bool             `json:"cost_known"`
	ToolCalls       int              `json:"tool_calls"`
	Steps           int              `json:"steps"`
	Provider        string           `json:"provider,omitempty"`
	Model           string           `json:"model,omitempty"`
	MessageID       string           `json:"message_id,omitempty"`        // the assistant message of the run
	ToolCallRecords []ToolCallRecord `json:"tool_call_records,omitempty"` // texts cut to MaxRecordedToolText
	ErrorNodeID     string           `json:"error_node_id,omitempty"`
	ErrorCode       string           `json:"error_code,omitempty"`
	ErrorMessage    string           `json:"error_message,omitempty"`
	Output          string           `json:"output,omitempty"`
	Log             []NodeRun        `json:"log,omitempty"`
	Metadata        map[string]any   `json:"metadata,omitempty"`
	// Redacted is set when the execution's conversation was deleted: its content is
	// gone for good (see Redact), and no later write brings it back.
	Redacted bool `json:"redacted,omitempty"`
	// Deadline is when a running execution is overdue: its run limit plus
	// DeadlineSlack after it started. A sweep ends a running execution past its
	// deadline failed with code timeout (see ListOverdue).
	Deadline time.Time `json:"deadline,omitzero"`
	// Idempotency names the Idempotency-Key of the request that started the run,
	// if any, so a sweep that ends the run also releases the key.
	Idempotency *IdempotencyRef `json:"idempotency,omitempty"`
	// CancelRequested is set by a cancel request (RequestCancel) while the run is
	// running; the instance running it notices within a second and ends it
	// cancelled. CancelledBy names the user who asked.
	CancelRequested bool   `json:"cancel_requested,omitempty"`
	CancelledBy     string `json:"cancelled_by,omitempty"`
	// KeepsFrames is set on a streaming run started with on_disconnect continue:
	// its SSE frames are kept in the frame log (FrameLog) for a client to resume.
	KeepsFrames bool `json:"keeps_frames,omitempty"`
	// Waiting is set while the run waits at a human node (status waiting): the
	// node, its prompt and input type, and when the wait ends (Deadline).
	Waiting *Waiting `json:"waiting,omitempty"`
}

// Waiting says what a waiting execution waits for (wire.Waiting without the link).
type Waiting struct {
	NodeID string `json:"node_id"`
	Prompt string `json:"prompt"`
	Input  string `json:"input"`
}

// RequestCancel marks a running execution to be cancelled by userID: the update a
// cancel request applies (with UpdateExecution). Returns conflict when it has
// ended already; asking twice is fine (the first asker is kept).
func RequestCancel(e *Execution, userID string) error {
	if Terminal(e.Status) {
		return Conflict("execution %q has already ended (%s)", e.ID, e.Status)
	}
	if !e.CancelRequested {
		e.CancelRequested, e.CancelledBy = true, userID
	}
	return nil
}

// IdempotencyRef names an in-progress idempotency record: enough to release it.
type IdempotencyRef struct {
	Key         string `json:"key"`
	RequestHash string `json:"request_hash"`
}

// DeadlineSlack is added to a run's time limit to make its deadline: the run's own
// end (its final writes, bounded by the executor's finish timeout and the caller's
// reserve) always lands before it, so a sweep only ends runs whose instance died.
const DeadlineSlack = time.Minute

// RunningShards spreads running executions over this many index partitions (see
// RunningShard), so no single partition takes every run's start and end.
const RunningShards = 4

// RunningShard is the index shard of a running execution, from its id.
func RunningShard(id string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % RunningShards)
}

// Overdue reports whether e is running past its deadline at now. A record without
// a deadline (stored before deadlines existed) is never overdue.
func Overdue(e *Execution, now time.Time) bool {
	return Live(e.Status) && !e.Deadline.IsZero() && e.Deadline.Before(now)
}

// OverdueRun names a running execution past its deadline.
type OverdueRun struct {
	UserID   string
	ID       string
	Deadline time.Time
}

// MaxOverdue bounds the overdue runs one ListOverdue returns; a sweep that finds
// that many ends them and the next sweep finds the rest.
const MaxOverdue = 100

// Live reports whether status is a run that has not ended: running, or waiting
// for a person. A live run with a deadline is swept once it is past it.
func Live(status string) bool {
	return status == ExecRunning || status == ExecWaiting
}

// Terminal reports whether status is a final state.
func Terminal(status string) bool {
	return status == ExecCompleted || status == ExecFailed || status == ExecCancelled
}

// NodeRun is one node visit in an execution's log (the wire shape).
type NodeRun = wire.NodeRun

// Definition is a stored, versioned workflow definition.
type Definition struct {
	ID        string              `json:"id"`
	UserID    string              `json:"user_id"`
	Version   int                 `json:"version"`
	Public    bool                `json:"public,omitempty"`
	Graph     workflow.Definition `json:"definition"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
}

// StartTurn is the first write of a run: the user message (stored before any model
// call), the conversation when it is new, and the running execution record. A store
// keeps none of its pointers past the call (it copies or encodes what they point at):
// the executor reuses the records.
type StartTurn struct {
	NewConversation *Conversation // set when the conversation is created by this run
	UserMessage     *Message      // Seq is assigned by the store
	Execution       *Execution
}

// FinishTurn is the last write of a run: the assistant message (nil when nothing was
// produced), the conversation aggregates, and the terminal execution record, in one
// transaction.
type FinishTurn struct {
	AssistantMessage *Message // Seq is assigned by the store
	Tokens           int
	Cost             float64
	Execution        *Execution
	// Summary, when set, is the conversation's new running summary, written in the
	// same conversation update (see SummaryUpdate for when it is kept).
	Summary *SummaryUpdate
}

// ErrInvalid matches any invalid error (a bad cursor, a missing id).
var ErrInvalid = &Error{Code: errcode.InvalidInput}

// Invalid builds an invalid error.
func Invalid(format string, args ...any) error {
	return &Error{Code: errcode.InvalidInput, Message: fmt.Sprintf(format, args...)}
}

// Conflict builds a conflict error.
func Conflict(format string, args ...any) error {
	return &Error{Code: errcode.Conflict, Message: fmt.Sprintf(format, args...)}
}

// A user's template names are unique per user: two of a user's templates never
// share a TemplateNameKey, and a name resolves to the user's template before a
// built-in's (see executor). Stores claim the name in the same write as the
// template, and release it on rename and delete.

// TemplateNameKey is the form under which a template name is unique: trimmed,
// lower-cased.
func TemplateNameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// TemplateNameTaken is the conflict of a name another of the user's templates has.
func TemplateNameTaken(name string) error {
	return &Error{Code: errcode.Conflict, Field: "name",
		Message: fmt.Sprintf("you already have a template named %q", strings.TrimSpace(name))}
}

// Page sizes for every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// PageRequest asks for one page of a list. Cursor is the Next of the previous page
// of the same list, or empty for the first page. Offset skips that many items
// first (after the cursor's position when both are set); at most MaxOffset.
type PageRequest struct {
	Limit  int
	Cursor string
	Offset int
}

// MaxOffset bounds PageRequest.Offset: a list read skips at most this many items
// (every skipped item is read); past it, follow next_cursor.
const MaxOffset = 10000

// MaxCounted bounds what a count or a sorted list reads: totals count at most this
// many records, and a list sorted other than by its index orders the MaxCounted
// most recent.
const MaxCounted = 10000

// Size is the page size after defaults and the cap.
func (p PageRequest) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// Page is one page of a list. Next is empty on the last page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next_cursor,omitempty"`
}

// ExecutionFilter narrows a list of executions; empty fields match everything.
type ExecutionFilter struct {
	Status       string // running | completed | failed | cancelled
	SourceKind   string // template | definition | dynamic | inline
	DefinitionID string // executions of this definition (any version)
}

// Match reports whether e passes the filter.
func (f ExecutionFilter) Match(e *Execution) bool {
	return (f.Status == "" || e.Status == f.Status) &&
		(f.SourceKind == "" || e.Source.Kind == f.SourceKind) &&
		(f.DefinitionID == "" || (e.Source.Kind == "definition" && e.Source.ID == f.DefinitionID))
}

// ExecutionEvent is one entry of an execution's event log. The log is ordered by
// Seq; an event stored twice (same ID) is stored once.
type ExecutionEvent struct {
	ID          string          `json:"id"`
	ExecutionID string          `json:"execution_id"`
	UserID      string          `json:"user_id"`
	Seq         int             `json:"seq"`
	Type        string          `json:"type"`
	Time        time.Time       `json:"time"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// Idempotency record states.
const (
	IdemInProgress = "in_progress"
	IdemDone       = "done"
)

// IdempotencyRecord remembers a request by its Idempotency-Key until ExpiresAt, so
// a retried request is answered with the first response instead of running twice.
type IdempotencyRecord struct {
	UserID      string    `json:"user_id"`
	Key         string    `json:"key"`
	RequestHash string    `json:"request_hash"` // tells a retry from a different request reusing the key
	State       string    `json:"state"`
	StatusCode  int       `json:"status_code,omitempty"`
	Response    []byte    `json:"response,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`

	// ConversationID is the conversation a kept response belongs to (its top-level
	// conversation_id); deleting that conversation deletes the record.
	ConversationID string `json:"conversation_id,omitempty"`
}
