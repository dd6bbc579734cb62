package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
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
		return deliverToRecord(ctx, e.st, logger, env)
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

// Logs join: the request's lines and the record subscriber's lines for the events
// of its run carry the request id, the run's the execution id, each exactly once.
func TestLogs_RequestAndSubscriberLinesJoinByRequestAndExecutionID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const secret = "okapi-lantern-88"
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	var e *env
	b := &bus{deliver: func(ctx context.Context, env events.Envelope) error {
		return deliverToRecord(ctx, e.st, logger, env)
	}}
	pub, err := events.NewPublisher(events.PublisherOptions{Client: b, BusName: "chatter", Logger: logger, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, envOpts{logger: logger, emitter: pub})
	for _, path := range []string{"/api/v1/workflows/execute/chat", "/api/v1/workflows/execute/chat/streaming"} {
		logs.mu.Lock()
		logs.buf.Reset()
		logs.mu.Unlock()
		resp, body := e.post(t, "alice", path, `{"message":"`+secret+`"}`, "X-Request-Id", "rid-join")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		var request, event int
		var execID string
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("%s: a line carries the message: %s", path, line)
			}
			for _, k := range []string{`"request_id":`, `"user_id":`, `"execution_id":`} {
				if n := strings.Count(line, k); n > 1 {
					t.Errorf("%s: %s %d times in %s", path, k, n, line)
				}
			}
			if !strings.Contains(line, `"request_id":"rid-join"`) {
				t.Errorf("%s: a line without the request id: %s", path, line)
			}
			var l struct {
				Msg         string `json:"msg"`
				ExecutionID string `json:"execution_id"`
			}
			_ = json.Unmarshal([]byte(line), &l)
			switch l.Msg {
			case "request":
				request++
				if l.ExecutionID == "" {
					t.Errorf("%s: the access line lacks the run's execution_id: %s", path, line)
				}
			case "workflow event":
				event++
				if execID == "" {
					execID = l.ExecutionID
				}
				if l.ExecutionID == "" || l.ExecutionID != execID {
					t.Errorf("%s: event line execution_id %q, want one id for the run: %s", path, l.ExecutionID, line)
				}
			}
		}
		// Execute flushed the run's events before it answered: nothing is left of it.
		if err := pub.Flush(ctx, execID); err != nil {
			t.Fatal(err)
		}
		if request != 1 || event < 3 || strings.Count(logs.String(), `"execution_id":"`+execID+`"`) != request+event {
			t.Errorf("%s: %d access lines and %d event lines; the test proves nothing", path, request, event)
		}
	}
	if len(b.errs) > 0 {
		t.Fatalf("the record subscriber failed: %v", b.errs)
	}
}

// deliverToRecord hands one event to the record subscriber as its SQS queue would:
// a batch of one message; a message it reports failed is an error.
func deliverToRecord(ctx context.Context, st record.Repo, logger *slog.Logger, env events.Envelope) error {
	body, err := json.Marshal(env)
	if err != nil {
		return err
	}
	resp, err := subscriber.Record(st, logger)(ctx, awsevents.SQSEvent{Records: []awsevents.SQSMessage{{MessageId: env.ID, Body: string(body)}}})
	if err == nil && len(resp.BatchItemFailures) > 0 {
		err = fmt.Errorf("record subscriber failed event %s", env.ID)
	}
	return err
}
