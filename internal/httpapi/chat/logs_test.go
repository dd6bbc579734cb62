package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/events/subscriber"
)

// logBuffer collects JSON log lines from every goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bus is EventBridge as far as the publisher can tell: each entry is delivered to
// the on-event-record handler (logging subscriber, then the record), as the rule
// would; while failing is set, every entry fails (so the publisher logs its losses
// and hands the terminal event to its fallback).
type bus struct {
	mu      sync.Mutex
	failing bool
	deliver func(ctx context.Context, env events.Envelope) error
	errs    []error
}

func (b *bus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	b.mu.Lock()
	failing := b.failing
	b.mu.Unlock()
	out := &eventbridge.PutEventsOutput{Entries: make([]types.PutEventsResultEntry, len(in.Entries))}
	for i, en := range in.Entries {
		if failing {
			out.FailedEntryCount++
			out.Entries[i] = types.PutEventsResultEntry{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")}
			continue
		}
		err := b.deliver(ctx, events.Envelope{ID: "env-" + aws.ToString(en.DetailType), Source: aws.ToString(en.Source),
			DetailType: aws.ToString(en.DetailType), Detail: json.RawMessage(aws.ToString(en.Detail))})
		if err != nil {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		}
	}
	return out, nil
}

func (b *bus) fail(on bool) {
	b.mu.Lock()
	b.failing = on
	b.mu.Unlock()
}

// Logs carry ids, sizes, codes and durations, never what was said: a full run —
// executor, publisher (its losses and fallback too), the logging and record
// subscribers, the access log — in standard and streaming mode, with a tool call
// and a failure, under an Idempotency-Key, then the delete, leaves none of the
// message, the reply or the tool's arguments and result in any log line.
func TestLogs_AFullRunLogsNoMessageReplyOrToolContent(t *testing.T) {
	const secret = "zebra-quartz-1701"
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger) // what logs through the default logger (tools) is caught too
	t.Cleanup(func() { slog.SetDefault(prev) })

	var e *env // the bus and the fallback reach its store once runs start
	b := &bus{deliver: func(ctx context.Context, env events.Envelope) error {
		return subscriber.Record(e.st, logger)(ctx, env)
	}}
	pub, err := events.NewPublisher(events.PublisherOptions{Client: b, BusName: "chatter", Logger: logger, Attempts: 1,
		Fallback: func(ctx context.Context, ev events.Event) error { return record.Apply(ctx, e.st, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, envOpts{idem: true, logger: logger, emitter: pub})

	const path = "/api/v1/workflows/execute/chat"
	resp, body := e.post(t, "alice", path, `{"message":"`+secret+` hello"}`, "Idempotency-Key", "k-logs")
	if resp.StatusCode != 200 || !strings.Contains(string(body), secret) {
		t.Fatalf("standard chat: %d %s", resp.StatusCode, body)
	}
	var first struct {
		ConversationID string `json:"conversation_id"`
	}
	if err := json.Unmarshal(body, &first); err != nil {
		t.Fatal(err)
	}
	conv := first.ConversationID
	if resp, _ := e.post(t, "alice", path, `{"message":"`+secret+` hello"}`, "Idempotency-Key", "k-logs"); resp.StatusCode != 200 {
		t.Fatalf("replay: %d", resp.StatusCode)
	}
	resp, body = e.post(t, "alice", path, `{"message":"/tool calculator {\"expression\":\"`+secret+`\"}","enable_tools":true,`+
		`"conversation_id":"`+conv+`"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), secret) {
		t.Fatalf("tool call: %d %s", resp.StatusCode, body)
	}
	resp, body = e.post(t, "alice", path+"/streaming", `{"message":"`+secret+` streamed","conversation_id":"`+conv+`"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), secret) {
		t.Fatalf("stream: %d %s", resp.StatusCode, body)
	}
	b.fail(true) // the bus is down for this run: losses logged, the terminal event saved by the fallback
	resp, body = e.post(t, "alice", path, `{"message":"/fail invalid_request `+secret+`","conversation_id":"`+conv+`"}`)
	if resp.StatusCode < 400 {
		t.Fatalf("failing run: %d %s", resp.StatusCode, body)
	}
	b.fail(false)
	if err := e.st.DeleteConversation(context.Background(), "alice", conv); err != nil {
		t.Fatal(err)
	}
	if len(b.errs) > 0 {
		t.Fatalf("the record subscriber failed: %v", b.errs)
	}

	out := logs.String()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, secret) {
			t.Errorf("a log line carries content: %s", l)
		}
	}
	for _, want := range []string{`"msg":"request"`, `"msg":"workflow event"`, `"event_type":"execution_completed"`,
		`"event_type":"tool_called"`, `"msg":"event not delivered"`, `"output_bytes":`} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %s, so this test would prove nothing", want)
		}
	}
}
