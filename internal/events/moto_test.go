package events_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestPublisher_DeliversThroughBusRuleToSQS runs the publisher against moto: a rule
// matching source and detail-type routes only terminal events to its queue.
func TestPublisher_DeliversThroughBusRuleToSQS(t *testing.T) {
	ctx := context.Background()
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

	p := newPublisher(t, eb, func(o *events.PublisherOptions) { o.BusName = bus })
	evs := trail(12, events.ExecutionCompleted) // 13 events: two PutEvents calls
	for _, e := range evs {
		p.Emit(ctx, e)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var got []events.Event
	for range 3 { // moto delivers synchronously; a few reads drain the queue
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: qo.QueueUrl, MaxNumberOfMessages: 10})
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
