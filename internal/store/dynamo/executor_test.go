package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
)

func newExecutor(t testing.TB, s executor.Store) *executor.Executor {
	t.Helper()
	x, err := executor.New(executor.Options{Store: s, Emitter: &events.Recorder{},
		Providers: []llm.Provider{devllm.New(devllm.Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func chatRequest(user, conv, msg string) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceTemplate, ID: "general_chat"},
		Input: executor.Input{UserID: user, ConversationID: conv, Message: msg}, Mode: executor.ModeStandard}
}

func allMessages(t *testing.T, s *dynamo.Store, user, conv string) []store.Message {
	t.Helper()
	pg, err := s.ListMessages(context.Background(), user, conv, store.PageRequest{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	return pg.Items
}

func TestExecute_OnDynamoStoresTurnsAndSurvivesAFailedRun(t *testing.T) {
	db, cnt := client(t)
	s := dynamo.New(db, table(t), dynamo.Options{})
	x := newExecutor(t, s)
	ctx := context.Background()
	user := fmt.Sprintf("u-%d", time.Now().UnixNano())

	res, err := x.Execute(ctx, chatRequest(user, "", "hello there"), nil)
	if err != nil || res.Status != store.ExecCompleted {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	conv := res.ConversationID
	msgs := allMessages(t, s, user, conv)
	if len(msgs) != 2 || msgs[0].Content != "hello there" || msgs[0].ID != res.UserMessageID ||
		msgs[1].ID != res.AssistantMessageID || msgs[1].Content != res.Response || msgs[1].Status != store.StatusComplete {
		t.Fatalf("stored messages %+v for result %+v", msgs, res)
	}

	// A run that fails at the provider keeps the user message; nothing else changes.
	res, err = x.Execute(ctx, chatRequest(user, conv, "/fail invalid_request"), nil)
	var re *executor.RuntimeError
	if !errors.As(err, &re) || res == nil || res.Status != store.ExecFailed {
		t.Fatalf("failing run: %+v, %v; want a failed result and a RuntimeError", res, err)
	}
	failedExec := res.ExecutionID
	msgs = allMessages(t, s, user, conv)
	if len(msgs) != 3 || msgs[2].Content != "/fail invalid_request" || msgs[2].Seq != 3 || msgs[2].ID != res.UserMessageID {
		t.Fatalf("after the failed run messages are %+v; want the user message stored as seq 3", msgs)
	}
	ex, err := s.GetExecution(ctx, user, failedExec)
	if err != nil || ex.Status != store.ExecFailed || ex.ErrorCode == "" {
		t.Fatalf("failed execution record %+v, %v", ex, err)
	}

	// The conversation continues, in order, and its aggregates add up.
	cnt.reset()
	res, err = x.Execute(ctx, chatRequest(user, conv, "still there?"), nil)
	if err != nil || res.Status != store.ExecCompleted {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	calls := cnt.reset()
	msgs = allMessages(t, s, user, conv)
	c, err := s.GetConversation(ctx, user, conv)
	if err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for i, m := range msgs {
		if m.Seq != i+1 {
			t.Fatalf("seqs not 1..n: %+v", msgs)
		}
		tokens += m.InputTokens + m.OutputTokens
	}
	if len(msgs) != 5 || c.MessageCount != 5 || c.TotalTokens != tokens || c.TotalTokens == 0 || c.Version != 6 {
		t.Fatalf("conversation %+v with %d messages (%d tokens); want 5 messages, tokens adding up, version 6", c, len(msgs), tokens)
	}
	// The answer's conversation (built without another read) is the one stored.
	if got := res.ChatResponse().Conversation; got.Version != c.Version || got.MessageCount != c.MessageCount ||
		got.TotalTokens != c.TotalTokens || got.Title != c.Title {
		t.Errorf("the answer's conversation %+v, stored %+v", got, c)
	}
	ex, err = s.GetExecution(ctx, user, res.ExecutionID)
	if err != nil || ex.Status != store.ExecCompleted || ex.Output != res.Response || ex.Usage.Total() != res.Usage.Total() {
		t.Fatalf("execution record %+v, %v for result %+v", ex, err, res)
	}
	total := 0
	for _, n := range calls {
		total += n
	}
	t.Logf("DynamoDB calls for a continued chat: %d %v", total, calls)
	if total > 4 {
		t.Errorf("a continued chat made %d DynamoDB calls %v; the hot path allows 4", total, calls)
	}

	// Another user cannot continue it.
	_, err = x.Execute(ctx, chatRequest(user+"-other", conv, "hi"), nil)
	var pe *executor.PreparationError
	if !errors.As(err, &pe) || pe.Code != errcode.NotFound {
		t.Fatalf("another user's continue: %v, want a not_found PreparationError", err)
	}
}

// A run that folds the conversation summary stores it in the turn's last write: a
// continued chat that folds makes no more DynamoDB calls than one that does not.
func TestExecute_OnDynamoTheSummaryRidesInTheTurnsLastWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, cnt := client(t)
	s := dynamo.New(db, table(t), dynamo.Options{})
	x := newExecutor(t, s)
	user := fmt.Sprintf("u-sum-%d", time.Now().UnixNano())
	memory := true
	send := func(conv, msg string) *executor.Result {
		t.Helper()
		req := executor.Request{Source: executor.Source{Kind: executor.SourceDynamic}, Mode: executor.ModeStandard,
			Input: executor.Input{UserID: user, ConversationID: conv, Message: msg,
				Config: executor.Config{EnableMemory: &memory, MemoryWindow: 2}}}
		res, err := x.Execute(ctx, req, nil)
		if err != nil || res.Status != store.ExecCompleted {
			t.Fatalf("Execute(%q): %+v, %v", msg, res, err)
		}
		return res
	}
	conv := send("", "alpha one").ConversationID
	send(conv, "bravo two")
	for i, tt := range []struct {
		msg     string
		through int
		summary string
	}{
		{"charlie three", 2, "user:alpha; assistant:You"},
		{"delta four", 4, "user:alpha; assistant:You; user:bravo; assistant:You"},
	} {
		cnt.reset()
		res := send(conv, tt.msg)
		calls := cnt.reset()
		total := 0
		for _, n := range calls {
			total += n
		}
		c, err := s.GetConversation(ctx, user, conv)
		if err != nil {
			t.Fatal(err)
		}
		if c.SummarySeq != tt.through || c.Summary != tt.summary || res.Conversation.Summary != tt.summary {
			t.Fatalf("turn %d: summary %q through %d; want %q through %d", i+3, c.Summary, c.SummarySeq, tt.summary, tt.through)
		}
		if total > 4 {
			t.Errorf("turn %d folded with %d DynamoDB calls %v; the hot path allows 4", i+3, total, calls)
		}
	}
}

// BenchmarkChatRoundTrips reports DynamoDB calls per standard chat execution through
// executor.Execute on moto: a new conversation, and a continued one (the hot path:
// read conversation+history, put user message+execution, transact reply+aggregates+
// execution; target at most 4).
func BenchmarkChatRoundTrips(b *testing.B) {
	db, cnt := client(b)
	s := dynamo.New(db, freshTable(b, db), dynamo.Options{})
	x := newExecutor(b, s)
	ctx := context.Background()
	b.Run("new_conversation", func(b *testing.B) {
		b.ReportAllocs()
		cnt.reset()
		for i := 0; b.Loop(); i++ {
			if _, err := x.Execute(ctx, chatRequest(fmt.Sprintf("bench-new-%d", i), "", "hello"), nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cnt.total.Load())/float64(b.N), "calls/op")
	})
	b.Run("continued_conversation", func(b *testing.B) {
		res, err := x.Execute(ctx, chatRequest("bench-cont", "", "hello"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cnt.reset()
		for b.Loop() {
			if _, err := x.Execute(ctx, chatRequest("bench-cont", res.ConversationID, "and again"), nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cnt.total.Load())/float64(b.N), "calls/op")
	})
}
