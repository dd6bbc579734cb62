package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	chatter "github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/tools"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// sizeStore is what the size tests read back besides what the executor writes.
type sizeStore interface {
	executor.Store
	record.Repo
	GetConversation(ctx context.Context, userID, convID string) (*store.Conversation, error)
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	ListMessages(ctx context.Context, userID, convID string, p store.PageRequest) (store.Page[store.Message], error)
	ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error)
}

var (
	sizeTableOnce sync.Once
	sizeTableErr  error
	sizeUsers     atomic.Int64
)

// stores runs fn on the in-memory store and on the DynamoDB store over moto, whose
// item limit (400 KB) is the real one.
func stores(t *testing.T, fn func(t *testing.T, s sizeStore)) {
	t.Run("memory", func(t *testing.T) { fn(t, store.NewMemory()) })
	t.Run("dynamo", func(t *testing.T) {
		db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
		const table = "executor-size-test"
		sizeTableOnce.Do(func() {
			sizeTableErr = dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, table)
		})
		if sizeTableErr != nil {
			t.Fatalf("CreateTable: %v", sizeTableErr)
		}
		fn(t, dynamo.New(db, table, dynamo.Options{}))
	})
}

// busCapture is an EventBridge that keeps every entry the publisher sent, so the
// test can deliver them to the record subscriber as EventBridge would.
type busCapture struct {
	mu      sync.Mutex
	entries []ebtypes.PutEventsRequestEntry
}

func (b *busCapture) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := 0
	for _, e := range in.Entries {
		size += len(*e.Detail) + len(*e.Source) + len(*e.DetailType) + 14
	}
	if size > events.MaxBatchBytes {
		return nil, fmt.Errorf("PutEvents: %d bytes, over EventBridge's %d", size, events.MaxBatchBytes)
	}
	b.entries = append(b.entries, in.Entries...)
	return &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}, nil
}

// deliver hands every captured event to the record subscriber twice (delivery is at
// least once) and fails on any error: a subscriber that fails on an event fails on
// every redelivery.
func (b *busCapture) deliver(t *testing.T, ctx context.Context, repo record.Repo) {
	t.Helper()
	b.mu.Lock()
	entries := append([]ebtypes.PutEventsRequestEntry(nil), b.entries...)
	b.mu.Unlock()
	for round := range 2 {
		for _, en := range entries {
			e, err := events.Decode(events.Envelope{Source: *en.Source, DetailType: *en.DetailType, Detail: json.RawMessage(*en.Detail)})
			if err != nil {
				t.Fatalf("decoding %s: %v", *en.DetailType, err)
			}
			if err := record.Apply(ctx, repo, e); err != nil {
				t.Fatalf("delivery %d of %s: %v", round+1, e.Type, err)
			}
		}
	}
}

// sizeRun is one Execute on s with a publisher whose entries are captured.
type sizeRun struct {
	user string
	res  *executor.Result
	err  error
	bus  *busCapture
}

func runSized(t *testing.T, ctx context.Context, s sizeStore, req executor.Request, mod func(*executor.Options)) sizeRun {
	t.Helper()
	bus := &busCapture{}
	pub, err := events.NewPublisher(events.PublisherOptions{Client: bus, BusName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	o := executor.Options{Store: s, Emitter: pub, Providers: []llm.Provider{devllm.New(devllm.Options{})}}
	if mod != nil {
		mod(&o)
	}
	x, err := executor.New(o)
	if err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf("size-user-%d-%d", time.Now().UnixNano(), sizeUsers.Add(1))
	req.Input.UserID = user
	res, err := x.Execute(ctx, req, nil)
	return sizeRun{user: user, res: res, err: err, bus: bus}
}

// checkStored asserts what every run here must leave: no error, the user message and
// the reply stored (whole, or cut on a character boundary and ending with the
// marker), the execution completed, and the same after its events are delivered to
// the record subscriber twice. It returns the stored messages and execution.
func checkStored(t *testing.T, ctx context.Context, s sizeStore, r sizeRun) ([]store.Message, *store.Execution) {
	t.Helper()
	if r.err != nil || r.res == nil || r.res.Status != store.ExecCompleted {
		t.Fatalf("Execute: %v; want a completed run", r.err)
	}
	res := r.res
	pg, err := s.ListMessages(ctx, r.user, res.ConversationID, store.PageRequest{})
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if len(pg.Items) != 2 || pg.Items[1].ID != res.AssistantMessageID {
		t.Fatalf("stored %d messages, want the user message and the reply %q", len(pg.Items), res.AssistantMessageID)
	}
	checkMarkedPrefix(t, "stored reply", pg.Items[1].Content, res.Response)
	r.bus.deliver(t, ctx, s)
	ex, err := s.GetExecution(ctx, r.user, res.ExecutionID)
	if err != nil {
		t.Fatalf("GetExecution: %v", err)
	}
	if ex.Status != store.ExecCompleted || ex.MessageID != res.AssistantMessageID {
		t.Fatalf("execution %s (message %q), want completed with message %q", ex.Status, ex.MessageID, res.AssistantMessageID)
	}
	checkMarkedPrefix(t, "execution output", ex.Output, res.Response)
	evs, err := s.ListEvents(ctx, r.user, res.ExecutionID, store.PageRequest{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if n := len(evs.Items); n == 0 || evs.Items[n-1].Type != events.ExecutionCompleted {
		t.Fatalf("event log has %d events, the last not %s", n, events.ExecutionCompleted)
	}
	return pg.Items, ex
}

// checkMarkedPrefix asserts that got is want, or a prefix of want cut on a
// character boundary followed by text.Marker.
func checkMarkedPrefix(t *testing.T, what, got, want string) {
	t.Helper()
	if !text.Shortened(got, want) {
		t.Fatalf("%s (%d bytes) is neither the whole text (%d bytes) nor a prefix of it with the marker", what, len(got), len(want))
	}
}

func sizeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// A message at the cap whose metadata JSON escaping inflates (encoding/json writes
// '<' as \u003c) fits when the turn starts and must still fit at its end.
func TestExecute_MessageAtTheCapWithEscapingMetadataKeepsTheReply(t *testing.T) {
	stores(t, func(t *testing.T, s sizeStore) {
		ctx := sizeCtx(t)
		req := template("general_chat", strings.Repeat("a", store.DefaultMaxContentBytes))
		html := strings.Repeat("<b>", 17<<10) // 51 KB that encoding/json would make 221 KB
		req.Input.Metadata = map[string]any{"html": html, "n": 1}
		r := runSized(t, ctx, s, req, nil)
		msgs, ex := checkStored(t, ctx, s, r)
		if len(msgs[0].Content) != store.DefaultMaxContentBytes {
			t.Fatalf("user message stored as %d bytes, want all %d", len(msgs[0].Content), store.DefaultMaxContentBytes)
		}
		if ex.Metadata["html"] != html {
			t.Fatalf("metadata not kept whole")
		}
	})
}

// Metadata over its budget is the caller's to fix: a 413 naming the field, before
// anything is stored.
func TestExecute_OversizeMetadataIsTooLargeBeforeAnythingIsStored(t *testing.T) {
	stores(t, func(t *testing.T, s sizeStore) {
		ctx := sizeCtx(t)
		req := template("general_chat", "hello")
		req.Input.Metadata = map[string]any{"html": strings.Repeat("<", store.MaxMetadataBytes)}
		req.ExecutionID = fmt.Sprintf("exec-oversize-%d", time.Now().UnixNano())
		r := runSized(t, ctx, s, req, nil)
		pe, ok := errAs[*executor.PreparationError](r.err)
		if !ok || pe.Code != errcode.TooLarge || pe.Field != "metadata" {
			t.Fatalf("err = %v, want too_large on metadata", r.err)
		}
		if r.res != nil {
			t.Fatalf("a result for a refused run")
		}
		if _, err := s.GetExecution(ctx, r.user, req.ExecutionID); store.CodeOf(err) != errcode.NotFound {
			t.Fatalf("execution of the refused run: %v, want not_found", err)
		}
	})
}

// 99 KB of tool-call arguments (a model can send them) full of characters JSON
// escapes: the arguments are trimmed on the records, the reply is kept.
func TestExecute_HugeToolArgumentsKeepTheReply(t *testing.T) {
	stores(t, func(t *testing.T, s sizeStore) {
		ctx := sizeCtx(t)
		args := `{"expression":"` + strings.Repeat(`<\"`, 33<<10) + `"}` // 99 KB, 297 KB escaped
		r := runSized(t, ctx, s, inline(toolLoopDef(""), "/tool calculator "+args), nil)
		msgs, ex := checkStored(t, ctx, s, r)
		tcs := msgs[1].ToolCalls
		if len(tcs) != 1 || tcs[0].Name != "calculator" || !tcs[0].IsError {
			t.Fatalf("stored tool calls %d, want the failed calculator call", len(tcs))
		}
		checkTrimmedArgs(t, "message", tcs[0].Arguments, args)
		if len(ex.ToolCallRecords) != 1 {
			t.Fatalf("execution keeps %d tool calls, want 1", len(ex.ToolCallRecords))
		}
		checkTrimmedArgs(t, "execution", ex.ToolCallRecords[0].Arguments, args)
	})
}

// checkTrimmedArgs asserts that stored arguments are valid JSON: the arguments sent,
// or a JSON string holding their marked prefix.
func checkTrimmedArgs(t *testing.T, where string, got json.RawMessage, sent string) {
	t.Helper()
	if string(got) == sent {
		return
	}
	var s string
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatalf("%s: trimmed arguments are not a JSON string: %v", where, err)
	}
	checkMarkedPrefix(t, where+" arguments", s, sent)
}

// Two 99 KB tool results and a reply quoting both: the reply's cut at the content
// cap falls inside a two-byte character, which must not cost the reply.
func TestExecute_HugeToolResultsAndAReplyCutMidCharacterKeepTheReply(t *testing.T) {
	// 99 KB; in the reply the cap falls inside an é of the second quote.
	result := "<" + strings.Repeat("é", 99<<9-1) + ">"
	big := tools.Tool{Name: "big", Description: "returns a large result", Handler: func(context.Context, json.RawMessage) (string, error) {
		return result, nil
	}}
	reg, err := tools.NewRegistry(big)
	if err != nil {
		t.Fatal(err)
	}
	stores(t, func(t *testing.T, s sizeStore) {
		ctx := sizeCtx(t)
		r := runSized(t, ctx, s, inline(toolLoopDef(""), "/tool big ; /tool big"), func(o *executor.Options) {
			o.Tools, o.MaxToolResult = reg, 128<<10
		})
		msgs, ex := checkStored(t, ctx, s, r)
		if utf8.RuneStart(r.res.Response[store.DefaultMaxContentBytes]) {
			t.Fatalf("the reply's byte at the cap starts a character; the test needs one inside")
		}
		if !strings.HasSuffix(msgs[1].Content, text.Marker) || len(msgs[1].Content) > store.DefaultMaxContentBytes {
			t.Fatalf("stored reply of %d bytes, want it cut to the cap with the marker", len(msgs[1].Content))
		}
		if msgs[1].Status != store.StatusIncomplete {
			t.Errorf("stored reply status %s, want %s (it is not the whole reply)", msgs[1].Status, store.StatusIncomplete)
		}
		tcs := msgs[1].ToolCalls
		if len(tcs) != 2 || len(ex.ToolCallRecords) != 2 {
			t.Fatalf("stored tool calls %d, recorded %d; want 2 each", len(tcs), len(ex.ToolCallRecords))
		}
		for i := range 2 {
			checkMarkedPrefix(t, "stored tool result", tcs[i].Result, result)
			checkMarkedPrefix(t, "recorded tool result", ex.ToolCallRecords[i].Result, result)
		}
	})
}

// A tool result over MaxToolResult is cut for the model on a character boundary,
// with the marker, within the limit.
func TestExecute_ToolResultForTheModelIsCutOnACharacterBoundary(t *testing.T) {
	result := "x" + strings.Repeat("é", 20000)
	big := tools.Tool{Name: "big", Description: "returns a large result", Handler: func(context.Context, json.RawMessage) (string, error) {
		return result, nil
	}}
	reg, err := tools.NewRegistry(big)
	if err != nil {
		t.Fatal(err)
	}
	var sent []llm.Message
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	rec.onStream = func(req *llm.Request) {
		if m := lastMessage(req); m.Role == llm.RoleTool {
			sent = append(sent, m)
		}
	}
	const limit = 32 << 10
	h := newHarness(t, func(o *executor.Options) { o.Tools, o.MaxToolResult, o.Providers = reg, limit, []llm.Provider{rec} })
	h.mustRun(t, inline(toolLoopDef(""), "/tool big"), nil)
	if len(sent) != 1 {
		t.Fatalf("tool messages sent %d, want 1", len(sent))
	}
	got := sent[0].Content
	if len(got) > limit || !strings.HasSuffix(got, text.Marker) {
		t.Fatalf("tool result sent as %d bytes, want at most %d ending with the marker", len(got), limit)
	}
	checkMarkedPrefix(t, "tool result sent", got, result)
}
