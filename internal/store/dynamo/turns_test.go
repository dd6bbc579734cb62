package dynamo_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
)

// Turns one process starts at once on one conversation queue behind each other:
// one transaction each, no lost race and so no re-read; finishes and a second
// process (another Store) still race them and retry, and every seq is taken once.
func TestStartTurn_OneProcessDoesNotRaceItselfOthersStillRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := table(t)
	db, cnt := client(t)
	s := dynamo.New(db, name, dynamo.Options{})
	user := fmt.Sprintf("u-turns-%d", time.Now().UnixNano())
	conv := "c-" + user
	now := time.Now().Truncate(time.Millisecond)
	msg := func(id string, role llm.Role) *store.Message {
		return &store.Message{ID: id, ConversationID: conv, UserID: user, Role: role, Content: id,
			Status: store.StatusComplete, CreatedAt: now}
	}
	if err := s.StartTurn(ctx, store.StartTurn{UserMessage: msg("m-0", llm.RoleUser),
		NewConversation: &store.Conversation{ID: conv, UserID: user, Title: "t", CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	start := func(s *dynamo.Store, i int) error {
		return s.StartTurn(ctx, store.StartTurn{UserMessage: msg(fmt.Sprintf("m-%d", i), llm.RoleUser)})
	}
	send := func(s *dynamo.Store, i int) error {
		if err := s.StartTurn(ctx, store.StartTurn{UserMessage: msg(fmt.Sprintf("m-%d", i), llm.RoleUser)}); err != nil {
			return err
		}
		return s.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: msg(fmt.Sprintf("a-%d", i), llm.RoleAssistant), Tokens: 1})
	}
	run := func(do func(*dynamo.Store, int) error, n, from int, stores ...*dynamo.Store) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := do(stores[i%len(stores)], from+i); err != nil {
					t.Errorf("send %d: %v", from+i, err)
				}
			})
		}
		wg.Wait()
	}
	const n = 8
	cnt.reset()
	run(start, n, 1, s)
	if calls := cnt.reset(); calls["TransactWriteItems"] != n || calls["GetItem"] != 0 {
		t.Errorf("%d starts of one process: %v; want %d TransactWriteItems and no GetItem", n, calls, n)
	}
	db2, _ := client(t)
	run(send, n, n+1, s, dynamo.New(db2, name, dynamo.Options{}))
	c, msgs, err := s.LoadConversation(ctx, user, conv, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.Seq != i+1 {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
	if want := 1 + 3*n; len(msgs) != want || c.MessageCount != want || c.TotalTokens != n {
		t.Errorf("%d messages, count %d, tokens %d; want %d, %d, %d", len(msgs), c.MessageCount, c.TotalTokens, want, want, n)
	}
}
