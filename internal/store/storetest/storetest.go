// Package storetest is the one repository test suite every store implementation
// passes: store.Memory (the logic-test fake) and the DynamoDB store on moto's
// server. A rule the fake keeps and DynamoDB does not (or the reverse) fails here.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Repo is every repository method the API and the executor use.
type Repo interface {
	LoadConversation(ctx context.Context, userID, convID string, window int) (*store.Conversation, []store.Message, error)
	StartTurn(ctx context.Context, t store.StartTurn) error
	FinishTurn(ctx context.Context, userID, convID string, t store.FinishTurn) error
	GetConversation(ctx context.Context, userID, convID string) (*store.Conversation, error)
	ListConversations(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Conversation], error)
	UpdateConversation(ctx context.Context, userID, convID string, fn func(*store.Conversation) error) (*store.Conversation, error)
	DeleteConversation(ctx context.Context, userID, convID string) error
	ListMessages(ctx context.Context, userID, convID string, p store.PageRequest) (store.Page[store.Message], error)
	CreateConversation(ctx context.Context, c *store.Conversation) error
	QueryConversations(ctx context.Context, userID string, q store.ConversationQuery) (store.ConversationList, error)
	DeleteMessage(ctx context.Context, userID, convID, msgID string) error
	RateMessage(ctx context.Context, userID, convID, msgID string, rating float64) (*store.Message, error)
	MessageRange(ctx context.Context, userID, convID string, from, to, limit int) ([]store.Message, error)
	store.Checkpoints

	CreateDefinition(ctx context.Context, d *store.Definition) error
	GetDefinition(ctx context.Context, userID, id string, version int) (*store.Definition, error)
	UpdateDefinition(ctx context.Context, userID, id string, fn func(*store.Definition) error) (*store.Definition, error)
	ListDefinitions(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Definition], error)
	ListDefinitionVersions(ctx context.Context, userID, id string, p store.PageRequest) (store.Page[store.Definition], error)
	DeleteDefinition(ctx context.Context, userID, id string) error

	PutTemplate(ctx context.Context, userID string, t *workflow.Template) error
	PublishTemplate(ctx context.Context, t *workflow.Template) error
	GetTemplate(ctx context.Context, userID, id string) (*workflow.Template, error)
	ListTemplates(ctx context.Context, userID string, p store.PageRequest) (store.Page[*workflow.Template], error)
	DeleteTemplate(ctx context.Context, userID, id string) error
	GetTemplateByName(ctx context.Context, userID, name string) (*workflow.Template, error)

	CreateExecution(ctx context.Context, e *store.Execution) error
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	ListExecutions(ctx context.Context, userID string, f store.ExecutionFilter, p store.PageRequest) (store.Page[store.Execution], error)
	CountExecutions(ctx context.Context, userID string, f store.ExecutionFilter) (int, error)
	UpdateExecution(ctx context.Context, userID, id string, fn func(*store.Execution) error) (*store.Execution, error)
	AppendEvents(ctx context.Context, userID, execID string, evs []store.ExecutionEvent) error
	ListOverdue(ctx context.Context, now time.Time) ([]store.OverdueRun, error)
	ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error)

	Hit(ctx context.Context, key string, window time.Duration, limit int) (int, time.Time, error)
	CreateIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
	CompleteIdempotency(ctx context.Context, r *store.IdempotencyRecord) error
	GetIdempotency(ctx context.Context, userID, key string) (*store.IdempotencyRecord, error)
	ReleaseIdempotency(ctx context.Context, r *store.IdempotencyRecord) error

	GetSettings(ctx context.Context, userID string) (*store.Settings, error)
	PutMemorySettings(ctx context.Context, userID string, m store.MemorySettings) error
	PutToolSettings(ctx context.Context, userID string, t store.ToolSettings) error

	CountRun(ctx context.Context, userID, execID string, keys []store.StatsKey, r store.RunSample) (bool, error)
	RunStats(ctx context.Context, userID string, keys ...string) ([]store.RunStats, error)

	store.FrameLog

	store.DocumentStore
}

// Clock is the settable time a Repo must use (its Now option).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// MaxContent is the content cap a Repo under test must be built with.
const MaxContent = store.DefaultMaxContentBytes

// Run runs the suite. newRepo returns a Repo with the default content cap whose
// clock is c. Each test works under its own user ids, so one Repo may serve all.
func Run(t *testing.T, newRepo func(t *testing.T, c *Clock) Repo) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r Repo, c *Clock)
	}{
		{"Turn_NewConversationNumbersMessagesFromOne", testTurnNumbering},
		{"Turn_LoadConversationReturnsLastWindowOldestFirst", testLoadWindow},
		{"Turn_NewConversationTwiceIsConflictAndWritesNothing", testNewConversationTwice},
		{"Turn_ContinuingMissingConversationIsNotFound", testContinueMissing},
		{"Turn_OversizeMessageIsTooLargeAndWritesNothing", testOversize},
		{"Turn_DuplicateExecutionIsConflictAndWritesNothing", testDuplicateExecution},
		{"Turn_FailedRunKeepsUserMessageAndConsistentAggregates", testFailedRun},
		{"Turn_FinishLeavesTerminalExecutionAlone", testFinishKeepsTerminal},
		{"Turn_ConcurrentSendsAllLandInOrder", testConcurrentSends},
		{"Turn_OversizeToolResultsAreTrimmedToTheItemBudget", testToolResultsTrimmed},
		{"Turn_ReplyAtTheCapOfEscapedCharactersIsStored", testEscapedReplyAtCap},
		{"Turn_OversizeReplyIsCutOnACharacterBoundaryAndMarked", testOversizeReply},
		{"Turn_EverythingARunProducesFitsAtTheFinish", testRunPartsFit},
		{"Turn_OversizeMetadataIsTooLargeNamingTheFieldAndWritesNothing", testOversizeMetadata},
		{"Turn_FittingIsDeterministic", testFitDeterministic},
		{"Executions_UpdateFitsWhatItIsGiven", testUpdateFits},
		{"Conversations_ListByRecencyAndUpdateTitleSummary", testConversations},
		{"Conversations_DeleteRemovesMessages", testDeleteConversation},
		{"Conversations_DeleteRemovesContentEverywhereForGood", testDeleteRedacts},
		{"Conversations_CreateWithoutMessagesThenTurnsNumberFromOne", testCreateConversation},
		{"Conversations_UpdateStoresWhatTheOwnerSetsAndNothingElse", testUpdateConversationSettings},
		{"Conversations_QueryFiltersSortsCountsAndPages", testQueryConversations},
		{"Messages_DeleteKeepsAggregatesRightNeverReusesASeqAndRemovesContent", testDeleteMessage},
		{"Messages_RatingIsStoredOnTheMessageAndCounted", testRateMessage},
		{"Messages_RangeIsSeqsFromToOldestFirstAtMostLimit", testMessageRange},
		{"Messages_DeletingASummarisedMessageClearsTheSummary", testDeleteSummarisedMessage},
		{"Turn_SummaryIsStoredWithTheTurnOnlyOntoTheSummaryItFolds", testSummaryStoredWithTurn},
		{"Pagination_OffsetSkipsAndCountCountsWhatTheFilterMatches", testOffsetAndCount},
		{"Definitions_UpdateKeepsOldVersionsReadable", testDefinitionVersions},
		{"Definitions_PublicReadableByAllChangeableByOwner", testPublicDefinitions},
		{"Definitions_OversizeGraphIsTooLargeAndWritesNothing", testOversizeDefinition},
		{"Templates_CRUDAndPublicFallback", testTemplates},
		{"Templates_NamesAreUniquePerUser", testTemplateNames},
		{"Executions_StatusOnlyMovesForward", testExecutionStatus},
		{"Executions_ListFilters", testExecutionFilters},
		{"Executions_OverdueRunsAreListedByDeadlineUntilTheyEnd", testOverdue},
		{"Events_AppendIsIdempotentAndListedInSeqOrder", testEvents},
		{"RateLimit_CountsPerWindowAndStopsAtLimitPlusOne", testRateLimit},
		{"Idempotency_PutIfAbsentCompleteAndExpiry", testIdempotency},
		{"Idempotency_ReleaseLetsARetryRunAnew", testIdempotencyRelease},
		{"Isolation_AnotherUsersIDFindsNothing", testIsolation},
		{"Settings_MemoryAndToolsStoredApartPerUser", testSettings},
		{"Documents_StatusForwardChunksReplacedAndVisibleOnlyWhenProcessed", testDocuments},
		{"Documents_DeleteRemovesChunksAndIsRetryable", testDocumentDelete},
		{"Pagination_250ItemsEachExactlyOnce", testPagination250},
		{"Pagination_EveryListPagesWithoutGapOrRepeat", testEveryListPages},
		{"Pagination_ForgedOrForeignCursorIsInvalid", testForgedCursor},
		{"RunStats_EachExecutionCountedOncePerUser", testRunStatsCountedOnce},
		{"RunStats_ConcurrentDeliveriesCountOnce", testRunStatsConcurrent},
		{"RunStats_RunOfMaxNodesIsCountedWholeAndOnce", testRunStatsManyNodes},
		{"RunStats_RefusedSampleIsInvalidAndCountsNothing", testRunStatsInvalid},
		{"Frames_ReadAfterASeqInOrderPerExecutionUntilTheyExpire", testFrames},
		{"Frames_ConversationDeleteRemovesThem", testFramesDeleted},
		{"Frames_OversizeBatchIsTooLarge", testFramesOversize},
		{"Checkpoint_KeptPerExecutionUntilItExpiresOrItsConversationGoes", testCheckpoints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			tc.fn(t, newRepo(t, c), c)
		})
	}
}

var ctx = context.Background()

var idSeq struct {
	sync.Mutex
	n int
}

// uid returns an id unique within the test binary, so tests sharing a table never
// see each other's records.
func uid(prefix string) string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), idSeq.n)
}

func code(err error) string {
	if err == nil {
		return "nil"
	}
	if c := store.CodeOf(err); c != "" {
		return c
	}
	return "untyped: " + err.Error()
}

func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("%s: error %v (code %s), want code %s", what, err, got, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// turn is one user message (starting conv when isNew) and its running execution.
func startTurn(t *testing.T, r Repo, c *Clock, user, conv, text string, isNew bool) (*store.Message, *store.Execution, error) {
	t.Helper()
	now := c.Now()
	m := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleUser, Content: text,
		Status: store.StatusComplete, CreatedAt: now}
	e := &store.Execution{ID: uid("exec"), UserID: user, ConversationID: conv, Source: store.SourceRef{Kind: "dynamic"},
		Mode: "standard", Status: store.ExecRunning, StartedAt: now}
	m.ExecutionID = e.ID
	st := store.StartTurn{UserMessage: m, Execution: e}
	if isNew {
		st.NewConversation = &store.Conversation{ID: conv, UserID: user, Title: text, CreatedAt: now, UpdatedAt: now}
	}
	return m, e, r.StartTurn(ctx, st)
}

func finishTurn(t *testing.T, r Repo, c *Clock, e *store.Execution, reply string, tokens int, cost float64) (*store.Message, error) {
	t.Helper()
	now := c.Now()
	am := &store.Message{ID: uid("msg"), ConversationID: e.ConversationID, UserID: e.UserID, ExecutionID: e.ID,
		Role: llm.RoleAssistant, Content: reply, Status: store.StatusComplete, InputTokens: tokens / 2,
		OutputTokens: tokens - tokens/2, Cost: cost, CostKnown: true, Provider: "devllm", Model: "echo", ResponseTimeMS: 12.5,
		CreatedAt: now}
	done := *e
	done.Status, done.FinishedAt, done.Output = store.ExecCompleted, now, reply
	done.Provider, done.Model, done.Usage = "devllm", "echo", llm.Usage{InputTokens: tokens / 2, OutputTokens: tokens - tokens/2}
	return am, r.FinishTurn(ctx, e.UserID, e.ConversationID, store.FinishTurn{AssistantMessage: am, Tokens: tokens,
		Cost: cost, Execution: &done})
}

// chat runs n full turns (the first creating conv) and returns the conversation id.
func chat(t *testing.T, r Repo, c *Clock, user string, n int) string {
	t.Helper()
	conv := uid("conv")
	for i := range n {
		c.Advance(time.Second)
		_, e, err := startTurn(t, r, c, user, conv, fmt.Sprintf("question %d", i), i == 0)
		must(t, "StartTurn", err)
		c.Advance(time.Second)
		_, err = finishTurn(t, r, c, e, fmt.Sprintf("answer %d", i), 10, 0.25)
		must(t, "FinishTurn", err)
	}
	return conv
}

func allMessages(t *testing.T, r Repo, user, conv string) []store.Message {
	t.Helper()
	var out []store.Message
	p := store.PageRequest{Limit: store.MaxPageSize}
	for {
		pg, err := r.ListMessages(ctx, user, conv, p)
		must(t, "ListMessages", err)
		out = append(out, pg.Items...)
		if pg.Next == "" {
			return out
		}
		p.Cursor = pg.Next
	}
}

// checkConsistent asserts a conversation's invariants: seqs 1..n without gap or
// repeat, message_count n.
func checkConsistent(t *testing.T, r Repo, user, conv string) (*store.Conversation, []store.Message) {
	t.Helper()
	cv, err := r.GetConversation(ctx, user, conv)
	must(t, "GetConversation", err)
	msgs := allMessages(t, r, user, conv)
	for i, m := range msgs {
		if m.Seq != i+1 {
			t.Fatalf("message %d has seq %d; seqs %v", i, m.Seq, seqs(msgs))
		}
	}
	if cv.MessageCount != len(msgs) {
		t.Fatalf("message_count %d, %d messages stored", cv.MessageCount, len(msgs))
	}
	return cv, msgs
}

func seqs(ms []store.Message) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func testTurnNumbering(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	um, e, err := startTurn(t, r, c, user, conv, "hello", true)
	must(t, "StartTurn", err)
	if um.Seq != 1 {
		t.Fatalf("user message seq %d, want 1", um.Seq)
	}
	c.Advance(time.Second)
	am, err := finishTurn(t, r, c, e, "hi there", 30, 0.5)
	must(t, "FinishTurn", err)
	if am.Seq != 2 {
		t.Fatalf("assistant message seq %d, want 2", am.Seq)
	}
	cv, msgs := checkConsistent(t, r, user, conv)
	if cv.MessageCount != 2 || cv.TotalTokens != 30 || cv.TotalCost != 0.5 || cv.Version != 2 || cv.Title != "hello" {
		t.Fatalf("conversation %+v, want 2 messages, 30 tokens, cost 0.5, version 2, title hello", cv)
	}
	if !cv.LastMessageAt.Equal(c.Now()) {
		t.Fatalf("last_message_at %v, want %v", cv.LastMessageAt, c.Now())
	}
	got := msgs[1]
	if got.ID != am.ID || got.Role != llm.RoleAssistant || got.Content != "hi there" || got.Status != store.StatusComplete ||
		got.InputTokens != 15 || got.OutputTokens != 15 || got.Cost != 0.5 || !got.CostKnown || got.Provider != "devllm" ||
		got.Model != "echo" || got.ResponseTimeMS != 12.5 || got.ExecutionID != e.ID || !got.CreatedAt.Equal(c.Now()) {
		t.Fatalf("stored assistant message %+v does not match what was written %+v", got, am)
	}
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	if ex.Status != store.ExecCompleted || ex.Output != "hi there" || ex.ConversationID != conv {
		t.Fatalf("execution %+v, want completed with output", ex)
	}
}

func testLoadWindow(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 3) // 6 messages
	tests := []struct {
		window   int
		wantSeqs []int
	}{{0, []int{}}, {1, []int{6}}, {4, []int{3, 4, 5, 6}}, {50, []int{1, 2, 3, 4, 5, 6}}}
	for _, tt := range tests {
		cv, msgs, err := r.LoadConversation(ctx, user, conv, tt.window)
		must(t, "LoadConversation", err)
		if cv.MessageCount != 6 || !slices.Equal(seqs(msgs), tt.wantSeqs) {
			t.Errorf("window %d: count %d seqs %v, want 6 and %v", tt.window, cv.MessageCount, seqs(msgs), tt.wantSeqs)
		}
	}
	_, msgs, _ := r.LoadConversation(ctx, user, conv, 2)
	if msgs[0].Role != llm.RoleUser || msgs[0].Content != "question 2" || msgs[1].Content != "answer 2" {
		t.Fatalf("last two messages %+v, want the last question and answer", msgs)
	}
}

func testNewConversationTwice(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	_, _, err := startTurn(t, r, c, user, conv, "first", true)
	must(t, "StartTurn", err)
	_, e, err := startTurn(t, r, c, user, conv, "again", true)
	wantCode(t, "second new conversation", err, errcode.Conflict)
	checkConsistent(t, r, user, conv)
	if msgs := allMessages(t, r, user, conv); len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	_, err = r.GetExecution(ctx, user, e.ID)
	wantCode(t, "execution of the refused turn", err, errcode.NotFound)
}

func testContinueMissing(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, "hello?", false)
	wantCode(t, "StartTurn on a missing conversation", err, errcode.NotFound)
	_, err = r.GetExecution(ctx, user, e.ID)
	wantCode(t, "execution", err, errcode.NotFound)
	_, err = finishTurn(t, r, c, e, "reply", 1, 0)
	wantCode(t, "FinishTurn on a missing conversation", err, errcode.NotFound)
	_, _, err = r.LoadConversation(ctx, user, conv, 10)
	wantCode(t, "LoadConversation", err, errcode.NotFound)
}

func testOversize(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	big := strings.Repeat("é", MaxContent/2) + "x" // MaxContent+1 bytes of UTF-8
	conv := uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, big, true)
	wantCode(t, "oversize first message", err, errcode.TooLarge)
	_, err = r.GetConversation(ctx, user, conv)
	wantCode(t, "conversation of the refused message", err, errcode.NotFound)
	_, err = r.GetExecution(ctx, user, e.ID)
	wantCode(t, "execution of the refused message", err, errcode.NotFound)

	conv = chat(t, r, c, user, 1)
	_, e, err = startTurn(t, r, c, user, conv, big, false)
	wantCode(t, "oversize continued message", err, errcode.TooLarge)
	_, err = r.GetExecution(ctx, user, e.ID)
	wantCode(t, "execution of the refused message", err, errcode.NotFound)
	cv, _ := checkConsistent(t, r, user, conv)
	if cv.MessageCount != 2 || cv.Version != 2 || cv.TotalTokens != 10 {
		t.Fatalf("conversation changed by refused writes: %+v", cv)
	}
	_, _, err = startTurn(t, r, c, user, conv, strings.Repeat("a", MaxContent), false)
	must(t, "a message of exactly the cap", err)
	_, _, err = startTurn(t, r, c, user, conv, "bad \xff utf-8", false)
	wantCode(t, "invalid UTF-8", err, errcode.InvalidInput)
}

func testDuplicateExecution(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	ex := &store.Execution{ID: uid("exec"), UserID: user, Status: store.ExecRunning}
	must(t, "CreateExecution", r.CreateExecution(ctx, ex))
	wantCode(t, "CreateExecution twice", r.CreateExecution(ctx, ex), errcode.Conflict)
	m := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleUser, Content: "hi",
		Status: store.StatusComplete, CreatedAt: c.Now()}
	err := r.StartTurn(ctx, store.StartTurn{UserMessage: m, Execution: &store.Execution{ID: ex.ID, UserID: user, Status: store.ExecRunning}})
	wantCode(t, "StartTurn with a used execution id", err, errcode.Conflict)
	if cv, _ := checkConsistent(t, r, user, conv); cv.MessageCount != 2 {
		t.Fatalf("message_count %d after a refused turn, want 2", cv.MessageCount)
	}
}

func testFailedRun(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	um, e, err := startTurn(t, r, c, user, conv, "/fail invalid_request", false)
	must(t, "StartTurn", err)
	failed := *e
	failed.Status, failed.ErrorCode, failed.ErrorMessage = store.ExecFailed, "invalid_request", "the provider refused"
	must(t, "FinishTurn", r.FinishTurn(ctx, user, conv, store.FinishTurn{Execution: &failed}))
	cv, msgs := checkConsistent(t, r, user, conv)
	if cv.MessageCount != 3 || msgs[2].ID != um.ID || msgs[2].Content != "/fail invalid_request" || cv.TotalTokens != 10 || cv.Version != 4 {
		t.Fatalf("after a failed run: %+v, messages %v; want the user message kept as seq 3, tokens 10, version 4", cv, seqs(msgs))
	}
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	if ex.Status != store.ExecFailed || ex.ErrorCode != "invalid_request" {
		t.Fatalf("execution %+v, want failed invalid_request", ex)
	}
	// The next turn continues the numbering.
	um, _, err = startTurn(t, r, c, user, conv, "again", false)
	must(t, "StartTurn", err)
	if um.Seq != 4 {
		t.Fatalf("next seq %d, want 4", um.Seq)
	}
}

func testFinishKeepsTerminal(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, "hi", true)
	must(t, "StartTurn", err)
	_, err = r.UpdateExecution(ctx, user, e.ID, func(x *store.Execution) error {
		x.Status, x.ErrorCode = store.ExecCancelled, "cancelled"
		return nil
	})
	must(t, "UpdateExecution", err)
	_, err = finishTurn(t, r, c, e, "late reply", 8, 0.125)
	must(t, "FinishTurn", err)
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	if ex.Status != store.ExecCancelled {
		t.Fatalf("execution status %s, want cancelled kept", ex.Status)
	}
	cv, _ := checkConsistent(t, r, user, conv)
	if cv.MessageCount != 2 || cv.TotalTokens != 8 {
		t.Fatalf("conversation %+v, want the reply and tokens stored", cv)
	}
}

func testConcurrentSends(t *testing.T, r Repo, c *Clock) {
	const n = 20
	user := uid("u")
	conv := chat(t, r, c, user, 1) // 2 messages, 10 tokens, cost 0.25
	type pair struct{ user, asst int }
	got := make([]pair, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			um, e, err := startTurn(t, r, c, user, conv, fmt.Sprintf("concurrent %d", i), false)
			if err != nil {
				errs <- fmt.Errorf("send %d: start: %w", i, err)
				return
			}
			am, err := finishTurn(t, r, c, e, fmt.Sprintf("reply %d", i), i+1, 0.5)
			if err != nil {
				errs <- fmt.Errorf("send %d: finish: %w", i, err)
				return
			}
			got[i] = pair{um.Seq, am.Seq}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	cv, msgs := checkConsistent(t, r, user, conv)
	wantTokens := 10
	for i := range n {
		wantTokens += i + 1
		if got[i].user >= got[i].asst {
			t.Errorf("send %d: user seq %d not before its reply's %d", i, got[i].user, got[i].asst)
		}
		if msgs[got[i].user-1].Content != fmt.Sprintf("concurrent %d", i) || msgs[got[i].asst-1].Content != fmt.Sprintf("reply %d", i) {
			t.Errorf("send %d: seqs %v do not hold its messages", i, got[i])
		}
	}
	if len(msgs) != 2+2*n || cv.TotalTokens != wantTokens || cv.TotalCost != 0.25+0.5*n || cv.Version != int64(2+2*n) {
		t.Fatalf("after %d concurrent sends: %d messages, tokens %d, cost %v, version %d; want %d, %d, %v, %d",
			n, len(msgs), cv.TotalTokens, cv.TotalCost, cv.Version, 2+2*n, wantTokens, 0.25+0.5*n, 2+2*n)
	}
}

func testToolResultsTrimmed(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, "use tools", true)
	must(t, "StartTurn", err)
	am := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleAssistant, Content: "done",
		Status: store.StatusComplete, CreatedAt: c.Now()}
	for i := range 6 {
		am.ToolCalls = append(am.ToolCalls, store.ToolCallRecord{ID: fmt.Sprint(i), Name: "calculator",
			Arguments: json.RawMessage(`{"expression":"1+1"}`), Result: strings.Repeat("r", 60<<10)})
	}
	// Sources past their budget: passages cut, the worst-ranked dropped, order kept.
	for i := range 60 {
		am.Sources = append(am.Sources, wire.Passage{DocumentID: fmt.Sprint("d", i), ChunkID: fmt.Sprint("c", i),
			Title: "t", Text: strings.Repeat("p", 8<<10), Score: 1 - float64(i)/100})
	}
	want := slices.Clone(am.Sources)
	must(t, "FinishTurn", r.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: am}))
	msgs := allMessages(t, r, user, conv)
	b, _ := store.Encode(msgs[1].ToolCalls)
	if len(msgs[1].ToolCalls) != 6 || len(b) > store.MaxToolCallsBytes || !strings.HasSuffix(msgs[1].ToolCalls[0].Result, "[truncated]") {
		t.Fatalf("tool calls stored as %d records, %d bytes; want 6 trimmed under %d", len(msgs[1].ToolCalls), len(b), store.MaxToolCallsBytes)
	}
	src := msgs[1].Sources
	sb, _ := store.Encode(src)
	if len(src) == 0 || len(src) == len(want) || len(sb) > store.MaxSourcesBytes {
		t.Fatalf("sources stored as %d of %d, %d bytes; want the best under %d", len(src), len(want), len(sb), store.MaxSourcesBytes)
	}
	for i, p := range src {
		if p.DocumentID != want[i].DocumentID || p.ChunkID != want[i].ChunkID || p.Score != want[i].Score ||
			!text.Shortened(p.Text, want[i].Text) || len(p.Text) > store.MaxSourceText {
			t.Fatalf("source %d stored as %+v", i, p)
		}
	}
	_ = e
}

func testConversations(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	a := chat(t, r, c, user, 1)
	b := chat(t, r, c, user, 1)
	pg, err := r.ListConversations(ctx, user, store.PageRequest{})
	must(t, "ListConversations", err)
	if len(pg.Items) != 2 || pg.Items[0].ID != b || pg.Items[1].ID != a || pg.Next != "" {
		t.Fatalf("list %+v, want [b a] with no next cursor", pg)
	}
	c.Advance(time.Second)
	_, _, err = startTurn(t, r, c, user, a, "bump", false)
	must(t, "StartTurn", err)
	pg, _ = r.ListConversations(ctx, user, store.PageRequest{})
	if pg.Items[0].ID != a {
		t.Fatalf("after a new message in a, list starts with %s", pg.Items[0].ID)
	}
	up, err := r.UpdateConversation(ctx, user, a, func(cv *store.Conversation) error {
		cv.Summary, cv.Title = "a summary", "renamed"
		cv.MessageCount, cv.TotalTokens = 999, 999 // not the caller's to change
		return nil
	})
	must(t, "UpdateConversation", err)
	got, _ := r.GetConversation(ctx, user, a)
	if got.Summary != "a summary" || got.Title != "renamed" || got.MessageCount != 3 || got.TotalTokens != 10 ||
		got.Version != up.Version || got.Version != 4 {
		t.Fatalf("after update %+v (returned %+v)", got, up)
	}
	boom := errors.New("refused")
	if _, err := r.UpdateConversation(ctx, user, a, func(*store.Conversation) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateConversation returned %v, want the closure's error", err)
	}
	um, _, err := startTurn(t, r, c, user, a, "after update", false)
	must(t, "StartTurn after update", err)
	if um.Seq != 4 {
		t.Fatalf("seq after update %d, want 4", um.Seq)
	}
}

func testDeleteConversation(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 15) // 30 messages: more than one batch of 25
	keep := chat(t, r, c, user, 1)
	must(t, "DeleteConversation", r.DeleteConversation(ctx, user, conv))
	_, err := r.GetConversation(ctx, user, conv)
	wantCode(t, "GetConversation after delete", err, errcode.NotFound)
	_, _, err = r.LoadConversation(ctx, user, conv, 50)
	wantCode(t, "LoadConversation after delete", err, errcode.NotFound)
	_, err = r.ListMessages(ctx, user, conv, store.PageRequest{})
	wantCode(t, "ListMessages after delete", err, errcode.NotFound)
	wantCode(t, "DeleteConversation twice", r.DeleteConversation(ctx, user, conv), errcode.NotFound)
	pg, _ := r.ListConversations(ctx, user, store.PageRequest{})
	if len(pg.Items) != 1 || pg.Items[0].ID != keep {
		t.Fatalf("list after delete %+v, want only %s", pg.Items, keep)
	}
	_, _, err = startTurn(t, r, c, user, conv, "revive?", false)
	wantCode(t, "StartTurn on a deleted conversation", err, errcode.NotFound)
}

func graph(name string) workflow.Definition {
	return workflow.Definition{Name: name, Nodes: []workflow.Node{{ID: "start", Type: "start"}, {ID: "llm", Type: "llm"}},
		Edges: []workflow.Edge{{ID: "e1", Source: "start", Target: "llm"}, {ID: "e2", Source: "llm", Target: "END"}}}
}

func testDefinitionVersions(t *testing.T, r Repo, c *Clock) {
	user, id := uid("u"), uid("def")
	d := &store.Definition{ID: id, UserID: user, Graph: graph("v1")}
	must(t, "CreateDefinition", r.CreateDefinition(ctx, d))
	if d.Version != 1 || d.Graph.Version != 1 || d.Graph.ID != id {
		t.Fatalf("created %+v, want version 1", d)
	}
	wantCode(t, "CreateDefinition twice", r.CreateDefinition(ctx, &store.Definition{ID: id, UserID: user, Graph: graph("x")}), errcode.Conflict)
	c.Advance(time.Minute)
	d2, err := r.UpdateDefinition(ctx, user, id, func(d *store.Definition) error {
		d.Graph.Name = "v2"
		d.UserID, d.Version = "someone-else", 77 // ignored
		return nil
	})
	must(t, "UpdateDefinition", err)
	if d2.Version != 2 || d2.UserID != user || d2.Graph.Name != "v2" || !d2.CreatedAt.Equal(d.CreatedAt) || !d2.UpdatedAt.Equal(c.Now()) {
		t.Fatalf("update returned %+v", d2)
	}
	tests := []struct {
		version  int
		wantName string
		wantVer  int
	}{{0, "v2", 2}, {1, "v1", 1}, {2, "v2", 2}}
	for _, tt := range tests {
		got, err := r.GetDefinition(ctx, user, id, tt.version)
		must(t, "GetDefinition", err)
		if got.Graph.Name != tt.wantName || got.Version != tt.wantVer || got.Graph.Version != tt.wantVer || len(got.Graph.Nodes) != 2 {
			t.Errorf("version %d: got %s v%d, want %s v%d", tt.version, got.Graph.Name, got.Version, tt.wantName, tt.wantVer)
		}
	}
	for _, v := range []int{3, -1} {
		_, err := r.GetDefinition(ctx, user, id, v)
		wantCode(t, fmt.Sprintf("GetDefinition version %d", v), err, errcode.NotFound)
	}
	vs, err := r.ListDefinitionVersions(ctx, user, id, store.PageRequest{})
	must(t, "ListDefinitionVersions", err)
	if len(vs.Items) != 2 || vs.Items[0].Version != 1 || vs.Items[1].Version != 2 {
		t.Fatalf("versions %+v", vs.Items)
	}
	list, err := r.ListDefinitions(ctx, user, store.PageRequest{})
	must(t, "ListDefinitions", err)
	if len(list.Items) != 1 || list.Items[0].Version != 2 {
		t.Fatalf("list %+v, want the latest version only", list.Items)
	}
	if _, err := r.UpdateDefinition(ctx, user, id, func(*store.Definition) error { return errors.New("no") }); err == nil {
		t.Fatal("UpdateDefinition ignored the closure's error")
	}
	must(t, "DeleteDefinition", r.DeleteDefinition(ctx, user, id))
	for _, v := range []int{0, 1, 2} {
		_, err := r.GetDefinition(ctx, user, id, v)
		wantCode(t, "GetDefinition after delete", err, errcode.NotFound)
	}
	_, err = r.ListDefinitionVersions(ctx, user, id, store.PageRequest{})
	wantCode(t, "ListDefinitionVersions after delete", err, errcode.NotFound)
	wantCode(t, "DeleteDefinition twice", r.DeleteDefinition(ctx, user, id), errcode.NotFound)
	_, err = r.UpdateDefinition(ctx, user, id, func(*store.Definition) error { return nil })
	wantCode(t, "UpdateDefinition after delete", err, errcode.NotFound)
	wantCode(t, "CreateDefinition without user", r.CreateDefinition(ctx, &store.Definition{ID: uid("def")}), errcode.InvalidInput)
}

func testPublicDefinitions(t *testing.T, r Repo, c *Clock) {
	owner, other, id := uid("u"), uid("u"), uid("def")
	must(t, "CreateDefinition", r.CreateDefinition(ctx, &store.Definition{ID: id, UserID: owner, Public: true, Graph: graph("shared")}))
	got, err := r.GetDefinition(ctx, other, id, 0)
	must(t, "GetDefinition by another user", err)
	if !got.Public || got.UserID != owner || got.Graph.Name != "shared" {
		t.Fatalf("public definition read as %+v", got)
	}
	_, err = r.UpdateDefinition(ctx, other, id, func(d *store.Definition) error { d.Graph.Name = "hijack"; return nil })
	wantCode(t, "UpdateDefinition by a non-owner", err, errcode.NotFound)
	wantCode(t, "DeleteDefinition by a non-owner", r.DeleteDefinition(ctx, other, id), errcode.NotFound)
	_, err = r.UpdateDefinition(ctx, owner, id, func(d *store.Definition) error { d.Graph.Name = "shared v2"; d.Public = false; return nil })
	must(t, "UpdateDefinition by the owner", err)
	got, err = r.GetDefinition(ctx, other, id, 0)
	must(t, "GetDefinition after update", err)
	if got.Version != 2 || !got.Public || got.Graph.Name != "shared v2" {
		t.Fatalf("public definition after update %+v, want v2 still public", got)
	}
	vs, err := r.ListDefinitionVersions(ctx, other, id, store.PageRequest{})
	must(t, "ListDefinitionVersions of a public definition", err)
	if len(vs.Items) != 2 {
		t.Fatalf("%d versions, want 2", len(vs.Items))
	}
	list, _ := r.ListDefinitions(ctx, other, store.PageRequest{})
	if len(list.Items) != 0 {
		t.Fatalf("another user's own list holds %+v", list.Items)
	}
	must(t, "DeleteDefinition by the owner", r.DeleteDefinition(ctx, owner, id))
	_, err = r.GetDefinition(ctx, other, id, 0)
	wantCode(t, "GetDefinition after delete", err, errcode.NotFound)
}

func tmpl(id, name string) *workflow.Template {
	return &workflow.Template{ID: id, Name: name, Description: "d", Category: "c",
		Capabilities: workflow.Capabilities{Tools: true}, Params: workflow.Params{SystemPrompt: "be brief"}}
}

func testTemplates(t *testing.T, r Repo, c *Clock) {
	user, other := uid("u"), uid("u")
	a, b, pub := uid("tpl-a"), uid("tpl-b"), uid("tpl-pub")
	must(t, "PutTemplate", r.PutTemplate(ctx, user, tmpl(a, "first")))
	must(t, "PutTemplate", r.PutTemplate(ctx, user, tmpl(b, "second")))
	must(t, "PutTemplate replaces", r.PutTemplate(ctx, user, tmpl(a, "first v2")))
	got, err := r.GetTemplate(ctx, user, a)
	must(t, "GetTemplate", err)
	if got.Name != "first v2" || got.Params.SystemPrompt != "be brief" || !got.Capabilities.Tools || got.Builtin {
		t.Fatalf("template read as %+v", got)
	}
	list, err := r.ListTemplates(ctx, user, store.PageRequest{})
	must(t, "ListTemplates", err)
	if len(list.Items) != 2 || list.Items[0].ID != a || list.Items[1].ID != b {
		t.Fatalf("list %v", list.Items)
	}
	must(t, "PublishTemplate", r.PublishTemplate(ctx, tmpl(pub, "everyone's")))
	for _, u := range []string{user, other} {
		got, err := r.GetTemplate(ctx, u, pub)
		must(t, "GetTemplate public", err)
		if got.Name != "everyone's" || !got.Public {
			t.Fatalf("public template read as %+v", got)
		}
	}
	must(t, "PutTemplate shadowing a public id", r.PutTemplate(ctx, user, tmpl(pub, "mine")))
	if got, _ := r.GetTemplate(ctx, user, pub); got.Name != "mine" || got.Public {
		t.Fatalf("own template does not win over the public one: %+v", got)
	}
	if got, _ := r.GetTemplate(ctx, other, pub); got.Name != "everyone's" {
		t.Fatalf("another user's template leaked: %+v", got)
	}
	must(t, "DeleteTemplate", r.DeleteTemplate(ctx, user, a))
	_, err = r.GetTemplate(ctx, user, a)
	wantCode(t, "GetTemplate after delete", err, errcode.NotFound)
	wantCode(t, "DeleteTemplate twice", r.DeleteTemplate(ctx, user, a), errcode.NotFound)
	wantCode(t, "DeleteTemplate of a public template", r.DeleteTemplate(ctx, other, pub), errcode.NotFound)
	wantCode(t, "PutTemplate without id", r.PutTemplate(ctx, user, tmpl("", "x")), errcode.InvalidInput)
}

// testTemplateNames: a user's template names are unique (case and space aside),
// claimed with the template, moved by a rename, freed by a delete; other users are
// unaffected, and a name finds the user's template.
func testTemplateNames(t *testing.T, r Repo, c *Clock) {
	user, other := uid("u"), uid("u")
	a, b := uid("tpl-a"), uid("tpl-b")
	must(t, "PutTemplate", r.PutTemplate(ctx, user, tmpl(a, "Support Bot")))
	err := r.PutTemplate(ctx, user, tmpl(b, "  support bot "))
	wantCode(t, "a second template with a taken name", err, errcode.Conflict)
	if se, ok := err.(*store.Error); !ok || se.Field != "name" {
		t.Fatalf("conflict %v does not name the field", err)
	}
	if _, err := r.GetTemplate(ctx, user, b); store.CodeOf(err) != errcode.NotFound {
		t.Fatalf("the refused template was stored: %v", err)
	}
	must(t, "the same name for another user", r.PutTemplate(ctx, other, tmpl(b, "Support Bot")))
	must(t, "replacing a template under its own name", r.PutTemplate(ctx, user, tmpl(a, "Support Bot")))
	got, err := r.GetTemplateByName(ctx, user, "SUPPORT BOT")
	must(t, "GetTemplateByName", err)
	if got.ID != a {
		t.Fatalf("name found %s, want %s", got.ID, a)
	}
	if got, err := r.GetTemplateByName(ctx, other, "support bot"); err != nil || got.ID != b {
		t.Fatalf("the other user's name found %+v, %v", got, err)
	}
	// A rename frees the old name and takes the new one.
	must(t, "rename", r.PutTemplate(ctx, user, tmpl(a, "Helper")))
	_, err = r.GetTemplateByName(ctx, user, "support bot")
	wantCode(t, "the old name after a rename", err, errcode.NotFound)
	must(t, "the freed name", r.PutTemplate(ctx, user, tmpl(b, "Support Bot")))
	wantCode(t, "renaming onto a taken name", r.PutTemplate(ctx, user, tmpl(a, "support bot")), errcode.Conflict)
	if got, _ := r.GetTemplate(ctx, user, a); got == nil || got.Name != "Helper" {
		t.Fatalf("a refused rename changed the template: %+v", got)
	}
	// A delete frees the name.
	must(t, "DeleteTemplate", r.DeleteTemplate(ctx, user, a))
	_, err = r.GetTemplateByName(ctx, user, "helper")
	wantCode(t, "the name of a deleted template", err, errcode.NotFound)
	must(t, "the name again", r.PutTemplate(ctx, user, tmpl(uid("tpl-c"), "Helper")))
}

func testExecutionStatus(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	e := &store.Execution{ID: uid("exec"), UserID: user, Source: store.SourceRef{Kind: "template", Name: "general_chat"},
		Status: store.ExecRunning, StartedAt: c.Now(), Metadata: map[string]any{"k": "v"}}
	must(t, "CreateExecution", r.CreateExecution(ctx, e))
	tests := []struct {
		name   string
		fn     func(*store.Execution) error
		want   string
		status string
	}{
		{"running stays running", func(x *store.Execution) error { x.Steps = 3; return nil }, "nil", store.ExecRunning},
		{"unknown status", func(x *store.Execution) error { x.Status = "paused"; return nil }, errcode.InvalidInput, store.ExecRunning},
		{"completes with totals set", func(x *store.Execution) error {
			x.Status, x.Usage, x.Cost, x.Output = store.ExecCompleted, llm.Usage{InputTokens: 5, OutputTokens: 7}, 0.01, "out"
			return nil
		}, "nil", store.ExecCompleted},
		{"terminal cannot go back", func(x *store.Execution) error { x.Status = store.ExecRunning; return nil }, errcode.Conflict, store.ExecCompleted},
		{"terminal cannot change", func(x *store.Execution) error { x.Status = store.ExecFailed; return nil }, errcode.Conflict, store.ExecCompleted},
		{"same terminal status may set totals again", func(x *store.Execution) error {
			x.Usage = llm.Usage{InputTokens: 5, OutputTokens: 7}
			return nil
		}, "nil", store.ExecCompleted},
	}
	for _, tt := range tests {
		_, err := r.UpdateExecution(ctx, user, e.ID, tt.fn)
		if code(err) != tt.want {
			t.Errorf("%s: error %v, want %s", tt.name, err, tt.want)
		}
		got, err := r.GetExecution(ctx, user, e.ID)
		must(t, "GetExecution", err)
		if got.Status != tt.status {
			t.Errorf("%s: status %s, want %s", tt.name, got.Status, tt.status)
		}
	}
	got, _ := r.GetExecution(ctx, user, e.ID)
	if got.Usage.InputTokens != 5 || got.Usage.OutputTokens != 7 || got.Steps != 3 || got.Output != "out" || got.Metadata["k"] != "v" ||
		got.Source.Name != "general_chat" || !got.StartedAt.Equal(e.StartedAt) {
		t.Fatalf("execution read as %+v", got)
	}
	_, err := r.UpdateExecution(ctx, user, uid("exec"), func(*store.Execution) error { return nil })
	wantCode(t, "UpdateExecution unknown id", err, errcode.NotFound)
}

func testExecutionFilters(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	def := uid("def")
	mk := func(kind, id, status string) string {
		e := &store.Execution{ID: uid("exec"), UserID: user, Source: store.SourceRef{Kind: kind, ID: id}, Status: status}
		must(t, "CreateExecution", r.CreateExecution(ctx, e))
		return e.ID
	}
	e1 := mk("definition", def, store.ExecCompleted)
	e2 := mk("definition", def, store.ExecFailed)
	e3 := mk("template", "general_chat", store.ExecCompleted)
	e4 := mk("definition", uid("def"), store.ExecRunning)
	tests := []struct {
		f    store.ExecutionFilter
		want []string
	}{
		{store.ExecutionFilter{}, []string{e4, e3, e2, e1}},
		{store.ExecutionFilter{Status: store.ExecCompleted}, []string{e3, e1}},
		{store.ExecutionFilter{SourceKind: "definition"}, []string{e4, e2, e1}},
		{store.ExecutionFilter{DefinitionID: def}, []string{e2, e1}},
		{store.ExecutionFilter{DefinitionID: def, Status: store.ExecFailed}, []string{e2}},
		{store.ExecutionFilter{DefinitionID: def, SourceKind: "template"}, []string{}},
		{store.ExecutionFilter{Status: store.ExecCancelled}, []string{}},
	}
	for _, tt := range tests {
		var ids []string
		p := store.PageRequest{Limit: 1}
		for {
			pg, err := r.ListExecutions(ctx, user, tt.f, p)
			must(t, "ListExecutions", err)
			for _, e := range pg.Items {
				ids = append(ids, e.ID)
			}
			if pg.Next == "" {
				break
			}
			p.Cursor = pg.Next
		}
		if ids == nil {
			ids = []string{}
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("filter %+v: %v, want %v", tt.f, ids, tt.want)
		}
	}
}

func testEvents(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	exec := uid("exec")
	_, err := r.ListEvents(ctx, user, exec, store.PageRequest{})
	wantCode(t, "ListEvents of an unknown execution", err, errcode.NotFound)
	ev := func(seq int, id string) store.ExecutionEvent {
		return store.ExecutionEvent{ID: id, Seq: seq, Type: "node_executed", Time: c.Now(), Data: json.RawMessage(`{"seq":` + fmt.Sprint(seq) + `}`)}
	}
	// Delivered out of order, one twice in the same batch and again later.
	must(t, "AppendEvents", r.AppendEvents(ctx, user, exec, []store.ExecutionEvent{ev(3, "c"), ev(1, "a"), ev(3, "c")}))
	must(t, "AppendEvents", r.AppendEvents(ctx, user, exec, []store.ExecutionEvent{ev(2, "b"), ev(1, "a")}))
	pg, err := r.ListEvents(ctx, user, exec, store.PageRequest{})
	must(t, "ListEvents", err)
	var got []string
	for _, e := range pg.Items {
		got = append(got, fmt.Sprintf("%d:%s:%s", e.Seq, e.ID, e.Data))
		if e.ExecutionID != exec || e.UserID != user || e.Type != "node_executed" || !e.Time.Equal(c.Now()) {
			t.Errorf("event read as %+v", e)
		}
	}
	want := []string{`1:a:{"seq":1}`, `2:b:{"seq":2}`, `3:c:{"seq":3}`}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// An execution without events lists empty, not not_found.
	e := &store.Execution{ID: uid("exec"), UserID: user, Status: store.ExecRunning}
	must(t, "CreateExecution", r.CreateExecution(ctx, e))
	pg, err = r.ListEvents(ctx, user, e.ID, store.PageRequest{})
	if err != nil || len(pg.Items) != 0 {
		t.Fatalf("events of an execution without events: %+v, %v", pg, err)
	}
	wantCode(t, "AppendEvents without id", r.AppendEvents(ctx, user, exec, []store.ExecutionEvent{{Seq: 1}}), errcode.InvalidInput)
	big := ev(9, "big")
	big.Data = json.RawMessage(`"` + strings.Repeat("x", store.MaxEventDataBytes) + `"`)
	wantCode(t, "AppendEvents oversize data", r.AppendEvents(ctx, user, exec, []store.ExecutionEvent{big}), errcode.TooLarge)
}

func testRateLimit(t *testing.T, r Repo, c *Clock) {
	k := uid("u") + "#chat"
	c.Advance(10 * time.Second) // 12:00:10, inside the 12:00 minute
	wantReset := time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)
	for i, want := range []int{1, 2, 3, 4, 4} {
		n, reset, err := r.Hit(ctx, k, time.Minute, 3)
		must(t, "Hit", err)
		if n != want || !reset.Equal(wantReset) {
			t.Fatalf("hit %d: count %d reset %v, want %d %v", i+1, n, reset, want, wantReset)
		}
	}
	if n, _, _ := r.Hit(ctx, uid("u")+"#chat", time.Minute, 3); n != 1 {
		t.Fatalf("another key counted %d, want 1", n)
	}
	c.Advance(time.Minute)
	n, reset, err := r.Hit(ctx, k, time.Minute, 3)
	must(t, "Hit", err)
	if n != 1 || !reset.Equal(wantReset.Add(time.Minute)) {
		t.Fatalf("next window: count %d reset %v, want 1 %v", n, reset, wantReset.Add(time.Minute))
	}
	for _, bad := range []struct {
		k   string
		win time.Duration
		lim int
	}{{"", time.Minute, 3}, {k, 0, 3}, {k, time.Minute, 0}} {
		_, _, err := r.Hit(ctx, bad.k, bad.win, bad.lim)
		wantCode(t, "Hit with bad arguments", err, errcode.InvalidInput)
	}
}

func testIdempotency(t *testing.T, r Repo, c *Clock) {
	user, k := uid("u"), uid("idem")
	rec := &store.IdempotencyRecord{UserID: user, Key: k, RequestHash: "h1", CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}
	must(t, "CreateIdempotency", r.CreateIdempotency(ctx, rec))
	wantCode(t, "CreateIdempotency twice", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k,
		RequestHash: "h2", ExpiresAt: c.Now().Add(time.Hour)}), errcode.Conflict)
	got, err := r.GetIdempotency(ctx, user, k)
	must(t, "GetIdempotency", err)
	if got.State != store.IdemInProgress || got.RequestHash != "h1" || !got.ExpiresAt.Equal(rec.ExpiresAt) {
		t.Fatalf("record read as %+v", got)
	}
	done := &store.IdempotencyRecord{UserID: user, Key: k, StatusCode: 200, Response: []byte(`{"ok":true}`)}
	must(t, "CompleteIdempotency", r.CompleteIdempotency(ctx, done))
	wantCode(t, "CompleteIdempotency twice", r.CompleteIdempotency(ctx, done), errcode.Conflict)
	got, _ = r.GetIdempotency(ctx, user, k)
	if got.State != store.IdemDone || got.StatusCode != 200 || string(got.Response) != `{"ok":true}` || got.RequestHash != "h1" {
		t.Fatalf("completed record read as %+v", got)
	}
	wantCode(t, "CompleteIdempotency of an unknown key", r.CompleteIdempotency(ctx,
		&store.IdempotencyRecord{UserID: user, Key: uid("idem")}), errcode.NotFound)
	c.Advance(time.Hour)
	_, err = r.GetIdempotency(ctx, user, k)
	wantCode(t, "GetIdempotency after expiry", err, errcode.NotFound)
	must(t, "CreateIdempotency after expiry", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k,
		RequestHash: "h3", ExpiresAt: c.Now().Add(time.Hour)}))
	wantCode(t, "CreateIdempotency already expired", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user,
		Key: uid("idem"), ExpiresAt: c.Now()}), errcode.InvalidInput)
	wantCode(t, "CreateIdempotency oversize response", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user,
		Key: uid("idem"), ExpiresAt: c.Now().Add(time.Hour), Response: make([]byte, store.MaxResponseBytes+1)}), errcode.TooLarge)
}

func testIsolation(t *testing.T, r Repo, c *Clock) {
	a, b := uid("alice"), uid("bob")
	conv := chat(t, r, c, a, 1)
	def := uid("def")
	must(t, "CreateDefinition", r.CreateDefinition(ctx, &store.Definition{ID: def, UserID: a, Graph: graph("private")}))
	tpl := uid("tpl")
	must(t, "PutTemplate", r.PutTemplate(ctx, a, tmpl(tpl, "private")))
	exec := &store.Execution{ID: uid("exec"), UserID: a, Status: store.ExecRunning}
	must(t, "CreateExecution", r.CreateExecution(ctx, exec))
	must(t, "AppendEvents", r.AppendEvents(ctx, a, exec.ID, []store.ExecutionEvent{{ID: "e1", Seq: 1, Type: "x"}}))
	idem := uid("idem")
	must(t, "CreateIdempotency", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: a, Key: idem, ExpiresAt: c.Now().Add(time.Hour)}))

	noop := func(any) error { return nil }
	reads := []struct {
		name string
		call func() error
	}{
		{"GetConversation", func() error { _, err := r.GetConversation(ctx, b, conv); return err }},
		{"LoadConversation", func() error { _, _, err := r.LoadConversation(ctx, b, conv, 10); return err }},
		{"ListMessages", func() error { _, err := r.ListMessages(ctx, b, conv, store.PageRequest{}); return err }},
		{"UpdateConversation", func() error {
			_, err := r.UpdateConversation(ctx, b, conv, func(c *store.Conversation) error { return noop(c) })
			return err
		}},
		{"DeleteConversation", func() error { return r.DeleteConversation(ctx, b, conv) }},
		{"StartTurn into it", func() error {
			return r.StartTurn(ctx, store.StartTurn{UserMessage: &store.Message{ID: uid("m"), UserID: b, ConversationID: conv,
				Role: llm.RoleUser, Content: "hi", Status: store.StatusComplete}})
		}},
		{"FinishTurn into it", func() error {
			return r.FinishTurn(ctx, b, conv, store.FinishTurn{AssistantMessage: &store.Message{ID: uid("m"), UserID: b,
				ConversationID: conv, Role: llm.RoleAssistant, Content: "x"}, Tokens: 5})
		}},
		{"GetDefinition", func() error { _, err := r.GetDefinition(ctx, b, def, 0); return err }},
		{"GetDefinition v1", func() error { _, err := r.GetDefinition(ctx, b, def, 1); return err }},
		{"ListDefinitionVersions", func() error { _, err := r.ListDefinitionVersions(ctx, b, def, store.PageRequest{}); return err }},
		{"UpdateDefinition", func() error {
			_, err := r.UpdateDefinition(ctx, b, def, func(d *store.Definition) error { return noop(d) })
			return err
		}},
		{"DeleteDefinition", func() error { return r.DeleteDefinition(ctx, b, def) }},
		{"GetTemplate", func() error { _, err := r.GetTemplate(ctx, b, tpl); return err }},
		{"DeleteTemplate", func() error { return r.DeleteTemplate(ctx, b, tpl) }},
		{"GetExecution", func() error { _, err := r.GetExecution(ctx, b, exec.ID); return err }},
		{"UpdateExecution", func() error {
			_, err := r.UpdateExecution(ctx, b, exec.ID, func(e *store.Execution) error { return noop(e) })
			return err
		}},
		{"ListEvents", func() error { _, err := r.ListEvents(ctx, b, exec.ID, store.PageRequest{}); return err }},
		{"GetIdempotency", func() error { _, err := r.GetIdempotency(ctx, b, idem); return err }},
		{"CompleteIdempotency", func() error {
			return r.CompleteIdempotency(ctx, &store.IdempotencyRecord{UserID: b, Key: idem})
		}},
	}
	for _, rd := range reads {
		if got := code(rd.call()); got != errcode.NotFound {
			t.Errorf("%s with another user's id: %s, want not_found", rd.name, got)
		}
	}
	convs, _ := r.ListConversations(ctx, b, store.PageRequest{})
	defs, _ := r.ListDefinitions(ctx, b, store.PageRequest{})
	tpls, _ := r.ListTemplates(ctx, b, store.PageRequest{})
	execs, _ := r.ListExecutions(ctx, b, store.ExecutionFilter{}, store.PageRequest{})
	if len(convs.Items)+len(defs.Items)+len(tpls.Items)+len(execs.Items) != 0 {
		t.Errorf("another user's lists hold %d conversations, %d definitions, %d templates, %d executions",
			len(convs.Items), len(defs.Items), len(tpls.Items), len(execs.Items))
	}
	// Nothing of a's changed.
	cv, _ := checkConsistent(t, r, a, conv)
	if cv.MessageCount != 2 || cv.TotalTokens != 10 || cv.Version != 2 {
		t.Errorf("a's conversation changed: %+v", cv)
	}
	if _, err := r.GetDefinition(ctx, a, def, 0); err != nil {
		t.Errorf("a's definition: %v", err)
	}
	if _, err := r.GetTemplate(ctx, a, tpl); err != nil {
		t.Errorf("a's template: %v", err)
	}
	if e, err := r.GetExecution(ctx, a, exec.ID); err != nil || e.Status != store.ExecRunning {
		t.Errorf("a's execution: %+v %v", e, err)
	}
	if rec, err := r.GetIdempotency(ctx, a, idem); err != nil || rec.State != store.IdemInProgress {
		t.Errorf("a's idempotency record: %+v %v", rec, err)
	}
}

// collect pages through a list with page size n and returns the keys seen.
func collect(t *testing.T, n int, list func(p store.PageRequest) ([]string, string, error)) []string {
	t.Helper()
	var out []string
	p := store.PageRequest{Limit: n}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		keys, next, err := list(p)
		must(t, "list page", err)
		if len(keys) > p.Size() {
			t.Fatalf("page of %d items, limit %d", len(keys), p.Size())
		}
		out = append(out, keys...)
		if next == "" {
			return out
		}
		p.Cursor = next
	}
}

func exactlyOnce(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		seen := map[string]int{}
		for _, k := range got {
			seen[k]++
		}
		var dup, missing []string
		for _, k := range want {
			switch seen[k] {
			case 0:
				missing = append(missing, k)
			case 1:
			default:
				dup = append(dup, k)
			}
		}
		t.Fatalf("%s: %d items, want %d; duplicated %v, missing %v", what, len(got), len(want), dup, missing)
	}
}

func testPagination250(t *testing.T, r Repo, c *Clock) {
	user, exec := uid("u"), uid("exec")
	var want []string
	var evs []store.ExecutionEvent
	for i := range 250 {
		id := fmt.Sprintf("ev%03d", i)
		want = append(want, id)
		evs = append(evs, store.ExecutionEvent{ID: id, Seq: i + 1, Type: "token_usage", Time: c.Now()})
	}
	must(t, "AppendEvents", r.AppendEvents(ctx, user, exec, evs))
	for _, n := range []int{7, 50, 100, 0} {
		got := collect(t, n, func(p store.PageRequest) ([]string, string, error) {
			pg, err := r.ListEvents(ctx, user, exec, p)
			var ids []string
			for _, e := range pg.Items {
				ids = append(ids, e.ID)
			}
			return ids, pg.Next, err
		})
		exactlyOnce(t, fmt.Sprintf("events in pages of %d", n), got, want)
	}
}

func testEveryListPages(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	var convIDs []string
	for range 5 {
		convIDs = append(convIDs, chat(t, r, c, user, 1))
	}
	slices.Reverse(convIDs) // most recent first
	long := chat(t, r, c, user, 6)
	convIDs = append([]string{long}, convIDs...)
	got := collect(t, 2, func(p store.PageRequest) ([]string, string, error) {
		pg, err := r.ListConversations(ctx, user, p)
		var ids []string
		for _, x := range pg.Items {
			ids = append(ids, x.ID)
		}
		return ids, pg.Next, err
	})
	exactlyOnce(t, "conversations", got, convIDs)
	got = collect(t, 5, func(p store.PageRequest) ([]string, string, error) {
		pg, err := r.ListMessages(ctx, user, long, p)
		var ids []string
		for _, x := range pg.Items {
			ids = append(ids, fmt.Sprint(x.Seq))
		}
		return ids, pg.Next, err
	})
	exactlyOnce(t, "messages", got, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"})

	var defIDs []string
	for i := range 5 {
		id := fmt.Sprintf("%s-%d", uid("def"), i)
		defIDs = append(defIDs, id)
		must(t, "CreateDefinition", r.CreateDefinition(ctx, &store.Definition{ID: id, UserID: user, Graph: graph("g")}))
	}
	slices.Sort(defIDs)
	got = collect(t, 2, func(p store.PageRequest) ([]string, string, error) {
		pg, err := r.ListDefinitions(ctx, user, p)
		var ids []string
		for _, x := range pg.Items {
			ids = append(ids, x.ID)
		}
		return ids, pg.Next, err
	})
	exactlyOnce(t, "definitions", got, defIDs)
	for range 4 {
		_, err := r.UpdateDefinition(ctx, user, defIDs[0], func(d *store.Definition) error { return nil })
		must(t, "UpdateDefinition", err)
	}
	got = collect(t, 2, func(p store.PageRequest) ([]string, string, error) {
		pg, err := r.ListDefinitionVersions(ctx, user, defIDs[0], p)
		var ids []string
		for _, x := range pg.Items {
			ids = append(ids, fmt.Sprint(x.Version))
		}
		return ids, pg.Next, err
	})
	exactlyOnce(t, "definition versions", got, []string{"1", "2", "3", "4", "5"})

	var tplIDs []string
	for i := range 5 {
		id := fmt.Sprintf("tpl-%d", i)
		tplIDs = append(tplIDs, id)
		must(t, "PutTemplate", r.PutTemplate(ctx, user, tmpl(id, "t "+id)))
	}
	got = collect(t, 2, func(p store.PageRequest) ([]string, string, error) {
		pg, err := r.ListTemplates(ctx, user, p)
		var ids []string
		for _, x := range pg.Items {
			ids = append(ids, x.ID)
		}
		return ids, pg.Next, err
	})
	exactlyOnce(t, "templates", got, tplIDs)
}

func testForgedCursor(t *testing.T, r Repo, c *Clock) {
	a, b := uid("alice"), uid("bob")
	convA := chat(t, r, c, a, 3)
	chat(t, r, c, a, 1)
	chat(t, r, c, b, 1)
	pg, err := r.ListConversations(ctx, a, store.PageRequest{Limit: 1})
	must(t, "ListConversations", err)
	if pg.Next == "" {
		t.Fatal("no next cursor for a list of 2 with limit 1")
	}
	good := pg.Next
	mp, err := r.ListMessages(ctx, a, convA, store.PageRequest{Limit: 2})
	must(t, "ListMessages", err)
	payload, mac, _ := strings.Cut(good, ".")
	flipped := []byte(payload)
	flipped[len(flipped)/2] ^= 0x01
	forged := []struct {
		name   string
		cursor string
		list   func(cur string) error
	}{
		{"garbage", "not-a-cursor", nil},
		{"payload edited", string(flipped) + "." + mac, nil},
		{"mac dropped", payload, nil},
		{"mac of another cursor", payload + "." + strings.SplitN(mp.Next, ".", 2)[1], nil},
		{"another user's cursor", good, func(cur string) error {
			_, err := r.ListConversations(ctx, b, store.PageRequest{Cursor: cur})
			return err
		}},
		{"another list's cursor", mp.Next, nil},
		{"a conversation's cursor on another conversation", mp.Next, func(cur string) error {
			_, err := r.ListMessages(ctx, a, uid("conv"), store.PageRequest{Cursor: cur})
			return err
		}},
		{"a conversations cursor on executions", good, func(cur string) error {
			_, err := r.ListExecutions(ctx, a, store.ExecutionFilter{}, store.PageRequest{Cursor: cur})
			return err
		}},
		{"an unfiltered cursor on a filtered list", good, func(cur string) error {
			_, err := r.ListExecutions(ctx, a, store.ExecutionFilter{Status: store.ExecFailed}, store.PageRequest{Cursor: cur})
			return err
		}},
	}
	for _, f := range forged {
		list := f.list
		if list == nil {
			list = func(cur string) error {
				_, err := r.ListConversations(ctx, a, store.PageRequest{Cursor: cur})
				return err
			}
		}
		if got := code(list(f.cursor)); got != errcode.InvalidInput {
			t.Errorf("%s: %s, want invalid", f.name, got)
		}
	}
	others := map[string]func(cur string) error{
		"ListDefinitions": func(cur string) error {
			_, err := r.ListDefinitions(ctx, a, store.PageRequest{Cursor: cur})
			return err
		},
		"ListDefinitionVersions": func(cur string) error {
			_, err := r.ListDefinitionVersions(ctx, a, "d", store.PageRequest{Cursor: cur})
			return err
		},
		"ListTemplates": func(cur string) error { _, err := r.ListTemplates(ctx, a, store.PageRequest{Cursor: cur}); return err },
		"ListEvents": func(cur string) error {
			_, err := r.ListEvents(ctx, a, "e", store.PageRequest{Cursor: cur})
			return err
		},
		"ListMessages": func(cur string) error {
			_, err := r.ListMessages(ctx, a, convA, store.PageRequest{Cursor: cur})
			return err
		},
	}
	for name, list := range others {
		if got := code(list(good)); got != errcode.InvalidInput {
			t.Errorf("%s with a conversations cursor: %s, want invalid", name, got)
		}
	}
	// The genuine cursor still works for its own list.
	pg, err = r.ListConversations(ctx, a, store.PageRequest{Limit: 1, Cursor: good})
	must(t, "ListConversations with the genuine cursor", err)
	if len(pg.Items) != 1 || pg.Next != "" {
		t.Fatalf("second page %+v, want the last conversation", pg)
	}
}

func testEscapedReplyAtCap(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, "<b>", true)
	must(t, "StartTurn", err)
	reply := strings.Repeat("<\"", MaxContent/2) // 6x its size once JSON-escaped
	_, err = finishTurn(t, r, c, e, reply, 1, 0)
	must(t, "FinishTurn with a reply of escaped characters at the cap", err)
	msgs := allMessages(t, r, user, conv)
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	if len(msgs) != 2 || msgs[1].Content != reply || ex.Output != reply {
		t.Fatalf("reply stored as %d bytes, output %d bytes; want %d", len(msgs[len(msgs)-1].Content), len(ex.Output), len(reply))
	}
}

func testOversizeDefinition(t *testing.T, r Repo, c *Clock) {
	user, id := uid("u"), uid("def")
	g := graph("big")
	g.Description = strings.Repeat("d", store.MaxRecordBytes)
	wantCode(t, "CreateDefinition oversize", r.CreateDefinition(ctx, &store.Definition{ID: id, UserID: user, Graph: g}), errcode.TooLarge)
	_, err := r.GetDefinition(ctx, user, id, 0)
	wantCode(t, "GetDefinition of the refused definition", err, errcode.NotFound)
	must(t, "CreateDefinition", r.CreateDefinition(ctx, &store.Definition{ID: id, UserID: user, Graph: graph("small")}))
	_, err = r.UpdateDefinition(ctx, user, id, func(d *store.Definition) error { d.Graph = g; return nil })
	wantCode(t, "UpdateDefinition oversize", err, errcode.TooLarge)
	if d, err := r.GetDefinition(ctx, user, id, 0); err != nil || d.Version != 1 {
		t.Fatalf("after a refused update: %+v %v; want version 1", d, err)
	}
}

func testOversizeReply(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, "write a lot", true)
	must(t, "StartTurn", err)
	reply := "x" + strings.Repeat("é", MaxContent) // over the cap; the cap falls inside an é
	am, err := finishTurn(t, r, c, e, reply, 1, 0)
	must(t, "FinishTurn with a reply over the cap", err)
	_, msgs := checkConsistent(t, r, user, conv)
	got := msgs[1]
	if got.ID != am.ID || len(got.Content) > MaxContent || !strings.HasSuffix(got.Content, text.Marker) || !text.Shortened(got.Content, reply) {
		t.Fatalf("reply stored as %d bytes, want a marked prefix within %d", len(got.Content), MaxContent)
	}
	if got.Status != store.StatusIncomplete || am.Status != store.StatusIncomplete {
		t.Fatalf("reply status stored %s, reported %s; want %s", got.Status, am.Status, store.StatusIncomplete)
	}
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	if ex.Status != store.ExecCompleted || len(ex.Output) > MaxContent || !text.Shortened(ex.Output, reply) {
		t.Fatalf("execution %s with %d bytes of output, want completed with a marked prefix", ex.Status, len(ex.Output))
	}
}

// escaping is text that encoding/json would inflate sixfold (and '"' twofold).
func escaping(n int) string { return strings.Repeat(`<>&"`, n/4) }

func testRunPartsFit(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	now := c.Now()
	um := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleUser, Content: escaping(MaxContent),
		Status: store.StatusComplete, CreatedAt: now}
	meta := map[string]any{"html": escaping((store.MaxMetadataBytes - 2048) * 4 / 5), "list": []any{1, "two", escaping(256)}} // within the budget encoded
	e := &store.Execution{ID: uid("exec"), UserID: user, ConversationID: conv, Source: store.SourceRef{Kind: "inline", Name: escaping(4 << 10)},
		Mode: "standard", Status: store.ExecRunning, StartedAt: now, Metadata: meta}
	um.ExecutionID = e.ID
	must(t, "StartTurn at the caps", r.StartTurn(ctx, store.StartTurn{UserMessage: um, Execution: e,
		NewConversation: &store.Conversation{ID: conv, UserID: user, Title: "t", CreatedAt: now, UpdatedAt: now}}))

	args := `{"q":"` + strings.Repeat(`<\"`, 33<<10) + `"}` // 99 KB
	var calls []store.ToolCallRecord
	for i := range 3 {
		calls = append(calls, store.ToolCallRecord{ID: fmt.Sprintf("call_%d", i), Name: "search", Arguments: json.RawMessage(args),
			Result: escaping(99 << 10), DurationMS: 1})
	}
	var log []store.NodeRun
	for i := range 2000 {
		log = append(log, store.NodeRun{Step: i, NodeID: "n" + escaping(64), Kind: "llm", Status: "error", StartedAt: now,
			Error: escaping(2 << 10), Detail: escaping(1 << 10)})
	}
	reply := escaping(MaxContent)
	am := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, ExecutionID: e.ID, Role: llm.RoleAssistant,
		Content: reply, ToolCalls: calls, Status: store.StatusComplete, Provider: "p", Model: escaping(1 << 10), CreatedAt: now}
	done := *e
	done.Status, done.Output, done.Log, done.ToolCallRecords = store.ExecCompleted, reply+reply, log, calls
	done.ErrorMessage, done.Model, done.ErrorNodeID = escaping(300<<10), escaping(1<<10), escaping(1<<10)
	must(t, "FinishTurn with every part over its budget", r.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: am, Execution: &done}))

	_, msgs := checkConsistent(t, r, user, conv)
	if msgs[0].Content != um.Content {
		t.Fatalf("user message not stored whole")
	}
	got := msgs[1]
	if got.Content != reply || len(got.ToolCalls) != 3 || store.MessageSize(&got) > store.MaxRecordBytes {
		t.Fatalf("reply stored with %d bytes of content and %d tool calls, %d bytes in all", len(got.Content), len(got.ToolCalls), store.MessageSize(&got))
	}
	if b, _ := store.Encode(got.ToolCalls); len(b) > store.MaxToolCallsBytes {
		t.Fatalf("tool calls stored as %d bytes, over %d", len(b), store.MaxToolCallsBytes)
	}
	checkCalls(t, "message", got.ToolCalls, calls)
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	if ex.Status != store.ExecCompleted || !text.Shortened(ex.Output, done.Output) || !text.Shortened(ex.ErrorMessage, done.ErrorMessage) ||
		!text.Shortened(ex.Model, done.Model) || ex.Metadata["html"] != meta["html"] || len(ex.Log) == 0 || store.ExecutionSize(ex) > store.MaxRecordBytes {
		t.Fatalf("execution %s stored as %d bytes (output %d, error %d, log %d entries)", ex.Status, store.ExecutionSize(ex),
			len(ex.Output), len(ex.ErrorMessage), len(ex.Log))
	}
	checkCalls(t, "execution", ex.ToolCallRecords, calls)
}

// checkCalls asserts that stored tool calls are the calls made, each argument and
// result whole or its marked prefix (an argument then a JSON string).
func checkCalls(t *testing.T, where string, got, want []store.ToolCallRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tool calls stored, want %d", where, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		args := string(g.Arguments)
		if args != string(w.Arguments) {
			if err := json.Unmarshal(g.Arguments, &args); err != nil {
				t.Fatalf("%s: call %d arguments are neither whole nor a JSON string: %v", where, i, err)
			}
		}
		if g.ID != w.ID || g.Name != w.Name || !text.Shortened(args, string(w.Arguments)) || !text.Shortened(g.Result, w.Result) {
			t.Fatalf("%s: call %d stored as %s/%s with %d bytes of arguments and %d of result; want the call's texts or their marked prefixes",
				where, i, g.ID, g.Name, len(g.Arguments), len(g.Result))
		}
	}
}

func testOversizeMetadata(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	now := c.Now()
	meta := map[string]any{"html": strings.Repeat("<", store.MaxMetadataBytes)}
	um := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleUser, Content: "hi", Status: store.StatusComplete, CreatedAt: now}
	e := &store.Execution{ID: uid("exec"), UserID: user, ConversationID: conv, Status: store.ExecRunning, StartedAt: now, Metadata: meta}
	err := r.StartTurn(ctx, store.StartTurn{UserMessage: um, Execution: e,
		NewConversation: &store.Conversation{ID: conv, UserID: user, CreatedAt: now, UpdatedAt: now}})
	wantField(t, "StartTurn with oversize metadata", err, errcode.TooLarge, "metadata")
	_, err = r.GetConversation(ctx, user, conv)
	wantCode(t, "conversation of the refused turn", err, errcode.NotFound)
	_, err = r.GetExecution(ctx, user, e.ID)
	wantCode(t, "execution of the refused turn", err, errcode.NotFound)
	wantField(t, "CreateExecution with oversize metadata", r.CreateExecution(ctx, e), errcode.TooLarge, "metadata")
	_, err = r.GetExecution(ctx, user, e.ID)
	wantCode(t, "execution of the refused create", err, errcode.NotFound)
}

func wantField(t *testing.T, what string, err error, code, field string) {
	t.Helper()
	var se *store.Error
	if !errors.As(err, &se) || se.Code != code || se.Field != field {
		t.Fatalf("%s: error %v, want %s naming %q", what, err, code, field)
	}
}

func testFitDeterministic(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	calls := []store.ToolCallRecord{
		{ID: "a", Name: "t", Arguments: json.RawMessage(`{"x":"` + strings.Repeat(`<>&\"`, 18<<10) + `"}`), Result: escaping(70 << 10)},
		{ID: "b", Name: "t", Arguments: json.RawMessage(`{}`), Result: strings.Repeat("é", 40<<10)},
	}
	var stored [][]store.ToolCallRecord
	for range 2 {
		conv := uid("conv")
		_, _, err := startTurn(t, r, c, user, conv, "go", true)
		must(t, "StartTurn", err)
		am := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleAssistant, Content: "done",
			ToolCalls: calls, Status: store.StatusComplete, CreatedAt: c.Now()}
		must(t, "FinishTurn", r.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: am}))
		stored = append(stored, allMessages(t, r, user, conv)[1].ToolCalls)
	}
	a, _ := json.Marshal(stored[0])
	b, _ := json.Marshal(stored[1])
	if string(a) != string(b) {
		t.Fatalf("the same tool calls were stored differently")
	}
	checkCalls(t, "message", stored[0], calls)
	if calls[0].Result != escaping(70<<10) {
		t.Fatalf("the caller's tool call records were edited")
	}
}

func testUpdateFits(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	e := &store.Execution{ID: uid("exec"), UserID: user, Status: store.ExecRunning, StartedAt: c.Now()}
	must(t, "CreateExecution", r.CreateExecution(ctx, e))
	out, errMsg := escaping(800<<10), escaping(300<<10)
	meta := map[string]any{"old": escaping(200 << 10), "keep": "v"}
	got, err := r.UpdateExecution(ctx, user, e.ID, func(x *store.Execution) error {
		x.Status, x.Output, x.ErrorMessage, x.Metadata = store.ExecFailed, out, errMsg, meta
		return nil
	})
	must(t, "UpdateExecution with every part over its budget", err)
	ex, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution", err)
	for _, x := range []*store.Execution{got, ex} {
		old, _ := x.Metadata["old"].(string)
		if x.Status != store.ExecFailed || !text.Shortened(x.Output, out) || !text.Shortened(x.ErrorMessage, errMsg) || !text.Shortened(old, meta["old"].(string)) ||
			x.Metadata["keep"] != "v" || store.ExecutionSize(x) > store.MaxRecordBytes {
			t.Fatalf("execution %s of %d bytes (output %d, error %d, metadata %d)", x.Status, store.ExecutionSize(x), len(x.Output), len(x.ErrorMessage), len(old))
		}
	}
	if meta["old"] != escaping(200<<10) {
		t.Fatalf("the caller's metadata was edited")
	}
}

// testOverdue: a running or waiting execution with a deadline is listed once the
// deadline has passed, never before; its terminal write takes it off the list; a
// record without a deadline is never listed.
func testOverdue(t *testing.T, r Repo, c *Clock) {
	user := uid("u-overdue")
	conv := uid("conv")
	listed := func(at time.Time, id string) bool {
		t.Helper()
		runs, err := r.ListOverdue(ctx, at)
		must(t, "ListOverdue", err)
		for _, o := range runs {
			if o.ID == id {
				if o.UserID != user {
					t.Fatalf("overdue run %s listed for user %q; want %q", id, o.UserID, user)
				}
				return true
			}
		}
		return false
	}
	start := c.Now()
	m := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, Role: llm.RoleUser, Content: "hi",
		Status: store.StatusComplete, CreatedAt: start}
	e := &store.Execution{ID: uid("exec"), UserID: user, ConversationID: conv, Source: store.SourceRef{Kind: "dynamic"},
		Mode: "standard", Status: store.ExecRunning, StartedAt: start, Deadline: start.Add(time.Minute)}
	m.ExecutionID = e.ID
	must(t, "StartTurn", r.StartTurn(ctx, store.StartTurn{UserMessage: m, Execution: e,
		NewConversation: &store.Conversation{ID: conv, UserID: user, Title: "hi", CreatedAt: start, UpdatedAt: start}}))
	_, plain, err := startTurn(t, r, c, user, conv, "no deadline", false)
	must(t, "StartTurn without a deadline", err)

	if listed(start.Add(59*time.Second), e.ID) {
		t.Fatal("a run was listed overdue before its deadline")
	}
	if !listed(start.Add(61*time.Second), e.ID) {
		t.Fatal("a run past its deadline was not listed overdue")
	}
	if listed(start.Add(24*time.Hour), plain.ID) {
		t.Fatal("a run without a deadline was listed overdue")
	}
	_, err = r.UpdateExecution(ctx, user, e.ID, func(x *store.Execution) error {
		x.Status, x.FinishedAt = store.ExecFailed, start.Add(61*time.Second)
		return nil
	})
	must(t, "ending the run", err)
	if listed(start.Add(time.Hour), e.ID) {
		t.Fatal("an ended run is still listed overdue")
	}

	// A run waiting for a person is live too: its deadline (the human node's
	// timeout) is swept like a running run's, and resuming it moves its deadline.
	_, w, err := startTurn(t, r, c, user, conv, "waiting", false)
	must(t, "StartTurn of the waiting run", err)
	_, err = r.UpdateExecution(ctx, user, w.ID, func(x *store.Execution) error {
		x.Status, x.Deadline = store.ExecWaiting, start.Add(2*time.Hour)
		return nil
	})
	must(t, "the run waits", err)
	if got, err := r.GetExecution(ctx, user, w.ID); err != nil || got.Status != store.ExecWaiting {
		t.Fatalf("waiting run read back: %+v, %v; want status %s", got, err, store.ExecWaiting)
	}
	if listed(start.Add(119*time.Minute), w.ID) {
		t.Fatal("a waiting run was listed overdue before its deadline")
	}
	if !listed(start.Add(121*time.Minute), w.ID) {
		t.Fatal("a waiting run past its deadline was not listed overdue")
	}
	_, err = r.UpdateExecution(ctx, user, w.ID, func(x *store.Execution) error {
		x.Status, x.Deadline = store.ExecRunning, start.Add(3*time.Hour)
		return nil
	})
	must(t, "resuming the waiting run", err)
	if listed(start.Add(121*time.Minute), w.ID) {
		t.Fatal("a resumed run is still listed at its old waiting deadline")
	}
	if !listed(start.Add(181*time.Minute), w.ID) {
		t.Fatal("a resumed run past its new deadline was not listed overdue")
	}
}
