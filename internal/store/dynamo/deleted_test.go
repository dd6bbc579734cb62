package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
)

// deletingProvider is devllm that deletes the conversation once its reply has been
// produced, before the turn's final write: the user deleted the conversation
// while its turn ran.
type deletingProvider struct {
	*devllm.Provider
	once   sync.Once
	delete func() error
	err    error
}

func (p *deletingProvider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	p.once.Do(func() { p.err = p.delete() })
	return p.Provider.Stream(ctx, req)
}

// A conversation deleted while its turn runs: the finish is not a 500 and brings
// nothing back. Standard mode ends with the typed conversation_deleted error, a
// stream with an error frame then done; either way the execution ends (failed,
// redacted, totals kept) instead of staying running, and no reply is stored,
// returned or sent on in the terminal event.
func TestExecute_OnDynamoConversationDeletedWhileItsTurnRuns(t *testing.T) {
	const secret = "zebra-quartz"
	for _, mode := range []executor.Mode{executor.ModeStandard, executor.ModeStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db, _ := client(t)
			s := dynamo.New(db, table(t), dynamo.Options{})
			user := fmt.Sprintf("u-del-%d", time.Now().UnixNano())
			first, err := newExecutor(t, s).Execute(ctx, chatRequest(user, "", "hello"), nil)
			if err != nil {
				t.Fatal(err)
			}
			conv := first.ConversationID
			p := &deletingProvider{Provider: devllm.New(devllm.Options{}),
				delete: func() error { return s.DeleteConversation(ctx, user, conv) }}
			rec := &events.Recorder{}
			x, err := executor.New(executor.Options{Store: s, Emitter: rec, Providers: []llm.Provider{p}})
			if err != nil {
				t.Fatal(err)
			}
			var chunks []wire.Chunk
			req := chatRequest(user, conv, secret+" question")
			req.Mode = mode
			res, err := x.Execute(ctx, req, executor.SinkFunc(func(c wire.Chunk) error {
				chunks = append(chunks, c)
				return nil
			}))
			if p.err != nil {
				t.Fatalf("DeleteConversation during the turn: %v", p.err)
			}
			var re *executor.RuntimeError
			if !errors.As(err, &re) || re.Code != errcode.ConversationDeleted || res == nil ||
				res.Status != store.ExecFailed || res.Error == nil || res.Error.Code != errcode.ConversationDeleted {
				t.Fatalf("result %+v, error %v; want a failed run with conversation_deleted", res, err)
			}
			if res.Response != "" || res.AssistantMessageID != "" {
				t.Fatalf("the result still carries the reply: %+v", res)
			}

			// Nothing was brought back.
			if _, err := s.GetConversation(ctx, user, conv); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("GetConversation after the turn: %v; want not_found", err)
			}
			if _, err := s.ListMessages(ctx, user, conv, store.PageRequest{}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("ListMessages after the turn: %v; want not_found", err)
			}
			// The execution ended, without content, with its totals.
			e, err := s.GetExecution(ctx, user, res.ExecutionID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(e)
			if e.Status != store.ExecFailed || e.ErrorCode != errcode.ConversationDeleted || !e.Redacted ||
				strings.Contains(string(b), secret) || e.Usage.Total() == 0 || e.FinishedAt.IsZero() {
				t.Fatalf("execution record %s; want failed, conversation_deleted, redacted, with its usage", b)
			}
			for _, ev := range rec.Events() {
				if eb, _ := json.Marshal(ev); strings.Contains(string(eb), secret) && ev.Terminal() {
					t.Fatalf("the terminal event carries the reply: %s", eb)
				}
			}
			if last := len(chunks) - 1; last < 1 || chunks[last].Type != wire.ChunkDone ||
				chunks[last-1].Type != wire.ChunkError || chunks[last-1].Error.Code != errcode.ConversationDeleted {
				t.Fatalf("the sink did not end with an error frame then done: %+v", chunks)
			}
			for _, c := range chunks {
				if c.Type == wire.ChunkComplete {
					t.Fatalf("a complete frame was sent for a discarded reply: %+v", c)
				}
			}
		})
	}
}
