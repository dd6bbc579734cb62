package dynamo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

type firstToken chan struct{}

func (f firstToken) Send(c wire.Chunk) error {
	if c.Type == wire.ChunkToken {
		select {
		case <-f:
		default:
			close(f)
		}
	}
	return nil
}

// On DynamoDB: a second client's cancel request (the record update the cancel
// route makes) ends a standard and a streaming run cancelled within the poll, with
// the partial reply stored incomplete and who cancelled on record and event.
func TestExecute_OnDynamoCancelFromASecondClient(t *testing.T) {
	db, _ := client(t)
	s := dynamo.New(db, table(t), dynamo.Options{})
	for _, mode := range []executor.Mode{executor.ModeStandard, executor.ModeStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rec := &events.Recorder{}
			x, err := executor.New(executor.Options{Store: s, Emitter: rec, CancelPoll: 200 * time.Millisecond,
				Providers: []llm.Provider{devllm.New(devllm.Options{Delay: 20 * time.Millisecond})}})
			if err != nil {
				t.Fatal(err)
			}
			user := fmt.Sprintf("u-cancel-%d", time.Now().UnixNano())
			req := chatRequest(user, "", strings.Repeat("word ", 500))
			req.Mode, req.ExecutionID = mode, fmt.Sprintf("e-cancel-%d", time.Now().UnixNano())
			tok := make(firstToken)
			type out struct {
				res *executor.Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := x.Execute(ctx, req, tok)
				done <- out{res, err}
			}()
			select {
			case <-tok:
			case <-ctx.Done():
				t.Fatal("no token streamed")
			}
			if _, err := s.UpdateExecution(ctx, user, req.ExecutionID, func(e *store.Execution) error {
				return store.RequestCancel(e, user)
			}); err != nil {
				t.Fatalf("cancel request: %v", err)
			}
			var o out
			select {
			case o = <-done:
			case <-ctx.Done():
				t.Fatal("the run did not end")
			}
			if o.res == nil || o.res.Status != store.ExecCancelled || executor.ErrorCode(o.err) != errcode.Cancelled {
				t.Fatalf("result %+v, err %v; want cancelled", o.res, o.err)
			}
			e, err := s.GetExecution(ctx, user, req.ExecutionID)
			if err != nil || e.Status != store.ExecCancelled || e.CancelledBy != user {
				t.Fatalf("record %+v, %v; want cancelled by %s", e, err, user)
			}
			msgs := allMessages(t, s, user, o.res.ConversationID)
			if len(msgs) != 2 || msgs[1].Status != store.StatusIncomplete || msgs[1].Content == "" {
				t.Fatalf("messages %+v; want the partial reply incomplete", msgs)
			}
			var by string
			for _, ev := range rec.Events() {
				if ev.Type == events.ExecutionCancelled {
					d, _ := ev.EndData()
					by = d.CancelledBy
				}
			}
			if by != user {
				t.Fatalf("execution_cancelled by %q; want %q", by, user)
			}
			// Ended now: a later cancel is a conflict.
			_, err = s.UpdateExecution(ctx, user, req.ExecutionID, func(e *store.Execution) error { return store.RequestCancel(e, user) })
			if store.CodeOf(err) != errcode.Conflict {
				t.Fatalf("cancelling the ended run: %v; want conflict", err)
			}
		})
	}
}
