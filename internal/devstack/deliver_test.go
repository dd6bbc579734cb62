package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/events"
)

// publish sends n node_executed events and a completed one through the bus.
func publish(t *testing.T, s *stack, n int) []events.Event {
	t.Helper()
	var evs []events.Event
	for i := 1; i <= n+1; i++ {
		e := events.Event{ID: fmt.Sprintf("%s-ev%d", s.bus, i), Version: events.SchemaVersion, Type: events.NodeExecuted,
			ExecutionID: "x", UserID: "u1", Seq: i, Time: time.Unix(1_800_000_000, 0).UTC(),
			Data: events.NodeExecutedData{NodeID: "n", Kind: "llm", Status: "ok"}}
		if i == n+1 {
			e.Type, e.Data = events.ExecutionCompleted, events.ExecutionEndData{Status: "completed"}
		}
		evs = append(evs, e)
		s.emit.Emit(context.Background(), e)
	}
	if err := s.emit.Flush(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestDeliver_DeletesOnlyAfterTheHandlerSucceeds(t *testing.T) {
	s := newStack(t, nil)
	evs := publish(t, s, 2)
	var mu sync.Mutex
	attempts := map[string]int{}
	last := evs[len(evs)-1].ID
	failLastOnce := func(_ context.Context, env events.Envelope) error {
		e, err := events.Decode(env)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		attempts[e.ID]++
		if e.ID == last && attempts[e.ID] == 1 {
			return errors.New("subscriber hiccup")
		}
		return nil
	}
	s.deliverUntil(t, "on-event-record", ids(evs, nil), each(failLastOnce))
	for _, e := range evs {
		if want := map[bool]int{true: 2, false: 1}[e.ID == last]; attempts[e.ID] != want {
			t.Errorf("event %s handled %d times, want %d: only the failed message comes again", e.ID, attempts[e.ID], want)
		}
	}
	left, err := sqsClient(s.cfg).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.queues["on-event-record"])})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Messages) != 0 {
		t.Errorf("%d messages left after every handler succeeded", len(left.Messages))
	}
}

func TestDeliver_ParksAnEventThatKeepsFailing(t *testing.T) {
	s := newStack(t, nil)
	evs := publish(t, s, 1)
	poison := evs[0].ID
	var mu sync.Mutex
	tries := 0
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	q := sqsClient(s.cfg)
	done := make(chan error, 1)
	go func() {
		done <- devstack.Deliver(ctx, q, s.queues["on-event-record"], each(func(_ context.Context, env events.Envelope) error {
			e, err := events.Decode(env)
			if err != nil || e.ID != poison {
				return err
			}
			mu.Lock()
			tries++
			mu.Unlock()
			return errors.New("never works")
		}))
	}()
	dlq, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(s.bus + "-on-event-record-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	var parked []string
	err = devstack.Deliver(ctx, q, *dlq.QueueUrl, each(func(_ context.Context, env events.Envelope) error {
		e, _ := events.Decode(env)
		parked = append(parked, e.ID)
		cancel()
		return nil
	}))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil || ctx.Err() == context.DeadlineExceeded || len(parked) != 1 || parked[0] != poison {
		t.Fatalf("DLQ held %v (err %v, ctx %v), want the poison event", parked, err, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if tries != devstack.MaxReceives {
		t.Errorf("poison event tried %d times, want %d", tries, devstack.MaxReceives)
	}
}

func TestDeliverAll_FeedsEachSubscriberItsQueue(t *testing.T) {
	s := newStack(t, nil)
	evs := publish(t, s, 1)
	if err := devstack.DeliverAll(context.Background(), sqsClient(s.cfg), s.queues, map[string]devstack.Handler{"on-event-record": nil}); err == nil {
		t.Fatal("DeliverAll ran with a subscriber lacking a handler")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[string]int{}
	counting := func(name string) devstack.Handler {
		return each(func(context.Context, events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			got[name]++
			// node_executed and execution_completed match both rules, so each
			// subscriber gets every published event.
			if got["on-event-record"] == len(evs) && got["on-event-metrics"] == len(evs) {
				cancel()
			}
			return nil
		})
	}
	if err := devstack.DeliverAll(ctx, sqsClient(s.cfg), s.queues, map[string]devstack.Handler{
		"on-event-record": counting("on-event-record"), "on-event-metrics": counting("on-event-metrics"),
		"documents-ingest": counting("documents-ingest")}); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("delivered %v, want %d to each subscriber", got, len(evs))
	}
}
