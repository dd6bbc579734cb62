package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// terminalQueue makes a bus on moto whose rule, matching source and detail-type,
// routes only terminal events to a queue; it returns the bus's name and the queue.
func terminalQueue(ctx context.Context, t *testing.T) (*eventbridge.Client, string, *sqs.Client, *string) {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus := "events-test-" + t.Name()
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("terminal-" + t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qo.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := json.Marshal(map[string][]string{"source": {events.Source},
		"detail-type": {events.ExecutionCompleted, events.ExecutionFailed, events.ExecutionCancelled}})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("terminal"), EventBusName: aws.String(bus),
		EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("terminal"), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	return eb, bus, q, qo.QueueUrl
}

// received drains the queue (moto delivers synchronously; a few reads do).
func received(ctx context.Context, t *testing.T, q *sqs.Client, url *string) []events.Event {
	t.Helper()
	var got []events.Event
	for range 3 {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var env events.Envelope
			if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
				t.Fatalf("body is not an EventBridge envelope: %v: %s", err, *m.Body)
			}
			e, err := events.Decode(env)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e)
		}
	}
	return got
}

// TestPublisher_DeliversThroughBusRuleToSQS runs the publisher against moto: a rule
// matching source and detail-type routes only terminal events to its queue.
func TestPublisher_DeliversThroughBusRuleToSQS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eb, bus, q, url := terminalQueue(ctx, t)

	p := newPublisher(t, eb, func(o *events.PublisherOptions) { o.BusName = bus })
	evs := trail(12, events.ExecutionCompleted) // 13 events: two PutEvents calls
	for _, e := range evs {
		p.Emit(ctx, e)
	}
	if err := p.Flush(ctx, "x1"); err != nil {
		t.Fatal(err)
	}

	got := received(ctx, t, q, url)
	if len(got) != 1 {
		t.Fatalf("queue got %d events, want only the terminal one", len(got))
	}
	last := evs[len(evs)-1]
	if got[0].ID != last.ID || got[0].Seq != last.Seq || !got[0].Time.Equal(last.Time) {
		t.Errorf("got %+v, want %+v", got[0], last)
	}
	if d, ok := got[0].EndData(); !ok || d.TotalTokens != 9 {
		t.Errorf("data = %#v", got[0].Data)
	}
}

// Against moto: a run whose batch is held at the bus does not delay another run's
// Flush, whose terminal event goes through the rule to the queue meanwhile.
func TestPublisher_RunFlushesPastAnotherRunsHeldBatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eb, bus, q, url := terminalQueue(ctx, t)
	held := &runBus{next: eb, held: "slow", release: make(chan struct{}), entered: make(chan struct{}, 1)}
	p := newPublisher(t, held, func(o *events.PublisherOptions) { o.BusName = bus })
	for _, e := range asRun(trail(9, events.ExecutionCompleted), "slow") { // a full batch: sent at once
		p.Emit(ctx, e)
	}
	select {
	case <-held.entered:
	case <-ctx.Done():
		t.Fatal("the slow run's batch never reached the bus")
	}
	good := asRun(trail(12, events.ExecutionCompleted), "good")
	for _, e := range good {
		p.Emit(ctx, e)
	}
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if err := p.Flush(fctx, "good"); err != nil {
		t.Fatalf("good run's Flush = %v with another run's batch held", err)
	}
	got := received(ctx, t, q, url)
	if len(got) != 1 || got[0].ID != good[len(good)-1].ID {
		t.Fatalf("queue got %+v, want only the good run's terminal event", got)
	}
	close(held.release)
	if err := p.Flush(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	if got := received(ctx, t, q, url); len(got) != 1 || got[0].ExecutionID != "slow" {
		t.Fatalf("queue got %+v, want the slow run's terminal event", got)
	}
}
