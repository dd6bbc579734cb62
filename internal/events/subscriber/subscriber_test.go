package subscriber_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/subscriber"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// batch is evs as an SQS event source delivers them: each message's body the
// EventBridge envelope, message ids m<first>, m<first+1>, ….
func batch(t *testing.T, first int, evs ...events.Event) awsevents.SQSEvent {
	t.Helper()
	var b awsevents.SQSEvent
	for i, e := range evs {
		detail, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		body, err := json.Marshal(events.Envelope{ID: "env-" + e.ID, Source: events.Source, DetailType: e.Type, Detail: detail})
		if err != nil {
			t.Fatal(err)
		}
		b.Records = append(b.Records, awsevents.SQSMessage{MessageId: fmt.Sprintf("m%d", first+i), Body: string(body)})
	}
	return b
}

func TestSubscribers_RedeliveryChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	now := time.Now().UTC()
	if err := st.CreateExecution(ctx, &store.Execution{ID: "x1", UserID: "u1", ConversationID: "c1",
		Status: store.ExecRunning, StartedAt: now, Source: store.SourceRef{Kind: "template", ID: "general_chat"}}); err != nil {
		t.Fatal(err)
	}
	src := events.SourceRef{Kind: "template", ID: "general_chat"}
	node := events.Event{ID: "e1", Version: 1, Type: events.NodeExecuted, ExecutionID: "x1", UserID: "u1", Source: src, Seq: 1,
		Time: now, Data: events.NodeExecutedData{NodeID: "llm", Kind: "llm", Step: 1, Status: "ok", DurationMS: 2}}
	done := events.Event{ID: "e2", Version: 1, Type: events.ExecutionCompleted, ExecutionID: "x1", UserID: "u1", Source: src, Seq: 2,
		Time: now, Data: events.ExecutionEndData{Status: store.ExecCompleted, DurationMS: 5, Usage: wire.Usage{InputTokens: 3, OutputTokens: 4, TotalTokens: 7, CostKnown: true}}}

	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var emf bytes.Buffer
	rec := subscriber.Record(st, logger)
	met := subscriber.Metrics(st, "Test/NS", &emf, logger)
	for _, b := range []awsevents.SQSEvent{batch(t, 0, done, node, done), batch(t, 3, node)} { // reversed, twice, a batch and again
		for name, h := range map[string]events.BatchHandler{"record": rec, "metrics": met} {
			resp, err := h(ctx, b)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("%s: failures %v, err %v", name, resp.BatchItemFailures, err)
			}
		}
	}
	x, err := st.GetExecution(ctx, "u1", "x1")
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != store.ExecCompleted || x.Usage.InputTokens != 3 || x.Usage.OutputTokens != 4 {
		t.Fatalf("record = %+v", x)
	}
	evs, err := st.ListEvents(ctx, "u1", "x1", store.PageRequest{})
	if err != nil || len(evs.Items) != 2 || evs.Items[0].Seq != 1 || evs.Items[1].Seq != 2 {
		t.Fatalf("event log = %+v, %v", evs.Items, err)
	}
	lines := strings.Split(strings.TrimSpace(emf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(emf.String(), `"Test/NS"`) {
		t.Fatalf("want one EMF line per event id in namespace Test/NS, got %d:\n%s", len(lines), emf.String())
	}
}

// failingLog is a store whose event-log writes of one execution fail.
type failingLog struct {
	*store.Memory
	exec string
}

func (f failingLog) AppendEvents(ctx context.Context, userID, execID string, evs []store.ExecutionEvent) error {
	if execID == f.exec {
		return errors.New("throttled")
	}
	return f.Memory.AppendEvents(ctx, userID, execID, evs)
}

func TestRecord_ReportsOnlyTheFailedExecutionsMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := store.NewMemory()
	now := time.Now().UTC()
	var evs []events.Event
	for _, x := range []string{"x1", "x2", "x3"} {
		if err := st.CreateExecution(ctx, &store.Execution{ID: x, UserID: "u1", Status: store.ExecRunning, StartedAt: now}); err != nil {
			t.Fatal(err)
		}
		evs = append(evs,
			events.Event{ID: x + "-2", Version: 1, Type: events.ExecutionCompleted, ExecutionID: x, UserID: "u1", Seq: 2, Time: now,
				Data: events.ExecutionEndData{Status: store.ExecCompleted}},
			events.Event{ID: x + "-1", Version: 1, Type: events.NodeExecuted, ExecutionID: x, UserID: "u1", Seq: 1, Time: now,
				Data: events.NodeExecutedData{NodeID: "llm", Kind: "llm", Status: "ok"}})
	}
	b := batch(t, 0, evs...)
	b.Records = append(b.Records, awsevents.SQSMessage{MessageId: "not-json", Body: "{"},
		awsevents.SQSMessage{MessageId: "foreign", Body: `{"source":"aws.s3","detail-type":"Object Created","detail":{}}`})
	resp, err := subscriber.Record(failingLog{st, "x2"}, slog.New(slog.NewJSONHandler(io.Discard, nil)))(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	// x2's two messages, and the body that is no envelope; the foreign event is dropped.
	if want := []string{"not-json", "m2", "m3"}; !slices.Equal(got, want) {
		t.Fatalf("failed messages %v, want %v", got, want)
	}
	for x, want := range map[string]string{"x1": store.ExecCompleted, "x2": store.ExecRunning, "x3": store.ExecCompleted} {
		if e, err := st.GetExecution(ctx, "u1", x); err != nil || e.Status != want {
			t.Errorf("%s: %+v, %v; want %s", x, e, err, want)
		}
	}
}
