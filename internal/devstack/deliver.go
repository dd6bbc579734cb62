package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client the delivery loop calls.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Handler is a subscriber as its Lambda sees it: one EventBridge envelope.
type Handler func(ctx context.Context, env awsevents.CloudWatchEvent) error

// receiveWait is the long-poll wait of one ReceiveMessage (the SQS maximum).
const receiveWait = 20

// Deliver long-polls queueURL and calls handler with each message's EventBridge
// envelope until ctx ends, then returns nil. A message is deleted only after the
// handler succeeded; a failed one is made visible again at once, so it is retried
// until the queue's redrive policy parks it in the dead-letter queue, as the rule's
// retry policy would for the Lambda.
func Deliver(ctx context.Context, client SQSAPI, queueURL string, handler Handler) error {
	log := slog.Default().With("queue_url", queueURL)
	pause := time.Duration(0)
	for {
		if pause > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pause):
			}
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
			MaxNumberOfMessages: 10, WaitTimeSeconds: receiveWait})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// The local endpoint restarting is no reason to stop the dev stack.
			pause = min(max(2*pause, 100*time.Millisecond), 5*time.Second)
			log.Warn("receiving events", "err", err, "retry_in", pause)
			continue
		}
		pause = 0
		var done []sqstypes.DeleteMessageBatchRequestEntry
		for _, m := range out.Messages {
			if ctx.Err() != nil {
				// The rest of the batch comes again once its visibility times out.
				break
			}
			// A message in hand is finished even as the loop stops, so shutting down
			// never fails a handler halfway through its writes.
			if handle(context.WithoutCancel(ctx), log, client, queueURL, m.MessageId, m.ReceiptHandle, aws.ToString(m.Body), handler) {
				done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle})
			}
		}
		deleteHandled(context.WithoutCancel(ctx), log, client, queueURL, done)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// handle runs the handler on one message and reports whether it succeeded. A
// failed message is made visible again at once, so it is retried until the
// queue's redrive policy parks it.
func handle(ctx context.Context, log *slog.Logger, client SQSAPI, queueURL string, id, receipt *string, body string, handler Handler) bool {
	var env awsevents.CloudWatchEvent
	err := json.Unmarshal([]byte(body), &env)
	if err == nil {
		err = handler(ctx, env)
	}
	if err == nil {
		return true
	}
	log.Error("event handler failed; message kept for redelivery", "message_id", aws.ToString(id),
		"detail_type", env.DetailType, "err", err)
	if _, verr := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(queueURL), ReceiptHandle: receipt, VisibilityTimeout: 0}); verr != nil {
		log.Warn("releasing message", "message_id", aws.ToString(id), "err", verr)
	}
	return false
}

// deleteHandled deletes the handled messages of one receive in one call.
func deleteHandled(ctx context.Context, log *slog.Logger, client SQSAPI, queueURL string, done []sqstypes.DeleteMessageBatchRequestEntry) {
	if len(done) == 0 {
		return
	}
	out, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: done})
	if err != nil {
		// Handled but not deleted: they come again, which idempotent handlers absorb.
		log.Warn("deleting messages", "count", len(done), "err", err)
		return
	}
	for _, f := range out.Failed {
		log.Warn("deleting message", "message_id", aws.ToString(f.Id), "code", aws.ToString(f.Code), "err", aws.ToString(f.Message))
	}
}

// DeliverAll runs Deliver for every subscriber queue (as ProvisionEvents returns
// them) with that subscriber's handler, until ctx ends. A queue without a handler
// is an error before anything runs: its events would pile up unseen.
func DeliverAll(ctx context.Context, client SQSAPI, queues map[string]string, handlers map[string]Handler) error {
	for name := range queues {
		if handlers[name] == nil {
			return fmt.Errorf("devstack: no handler for subscriber %s", name)
		}
	}
	var wg sync.WaitGroup
	for name, url := range queues {
		wg.Go(func() { _ = Deliver(ctx, client, url, handlers[name]) }) // Deliver returns nil once ctx ends
	}
	wg.Wait()
	return nil
}
