package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// A Lambda's context carries its deadline (30 s behind API Gateway). A run that
// would outlast it must end early enough to store what it produced, not be killed
// between the last token and the final write (the execution would stay running and
// the reply would be lost).
func TestExecute_EndsBeforeTheCallersDeadlineWithThePartialReplyStored(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) {
		o.Providers = []llm.Provider{devllm.New(devllm.Options{Delay: 20 * time.Millisecond})}
		o.FinishReserve = 400 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	msg := strings.Repeat("word ", 400) // ~400 deltas at 20 ms: 8 s, far past the deadline
	res, err := h.x.Execute(ctx, inline(chatDef(), msg), nil)
	if ctx.Err() != nil {
		t.Fatalf("Execute returned after the caller's deadline (err %v)", err)
	}
	if got := executor.ErrorCode(err); got != errcode.Timeout {
		t.Fatalf("err = %v (code %q), want %s", err, got, errcode.Timeout)
	}
	if res == nil || res.Status != store.ExecFailed || res.Response == "" {
		t.Fatalf("result = %+v, want failed with a partial reply", res)
	}
	msgs := h.messages(t, userA, res.ConversationID)
	if len(msgs) != 2 || msgs[1].Status != store.StatusIncomplete || msgs[1].Content != res.Response {
		t.Fatalf("stored messages = %+v, want the user message and the partial reply marked incomplete", msgs)
	}
	if e := h.execution(t, userA, res.ExecutionID); e.Status != store.ExecFailed || e.ErrorCode != errcode.Timeout {
		t.Errorf("execution = %s/%s, want failed/timeout", e.Status, e.ErrorCode)
	}
}
