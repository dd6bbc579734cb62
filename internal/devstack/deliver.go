package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/chatterhq/chatter/internal/events"
)

// SQSAPI is the part of the SQS client the delivery loop calls.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Handler is a subscriber as its Lambda sees it behind its queue's SQS event
// source: one delivered batch, answering the messages that failed.
type Handler = events.BatchHandler

// receiveWait is the long-poll wait of one ReceiveMessage (the SQS maximum).
const receiveWait = 20

// Deliver long-polls queueURL and hands each receive (up to 10 messages, each an
// EventBridge envelope) to handler as one batch, as the Lambda's SQS event source
// does (BatchSize 10, ReportBatchItemFailures), until ctx ends, then returns nil.
// The messages the handler reports failed (all of them, if it returns an error)
// are made visible again at once, so they are retried until the queue's redrive
// policy parks them in the dead-letter queue; the rest are deleted.
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
			// What was received comes again once its visibility times out.
			return nil
		}
		if err != nil {
			// The local endpoint restarting is no reason to stop the dev stack.
			pause = min(max(2*pause, 100*time.Millisecond), 5*time.Second)
			log.Warn("receiving events", "err", err, "retry_in", pause)
			continue
		}
		pause = 0
		if len(out.Messages) == 0 {
			continue
		}
		// A batch in hand is finished even as the loop stops, so shutting down
		// never fails a handler halfway through its writes.
		handleBatch(context.WithoutCancel(ctx), log, client, queueURL, out.Messages, handler)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// handleBatch runs the handler on one receive, deletes the messages it handled
// and releases the others for redelivery.
func handleBatch(ctx context.Context, log *slog.Logger, client SQSAPI, queueURL string, msgs []sqstypes.Message, handler Handler) {
	batch := awsevents.SQSEvent{Records: make([]awsevents.SQSMessage, len(msgs))}
	for i, m := range msgs {
		batch.Records[i] = awsevents.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), EventSource: "aws:sqs"}
	}
	failed := map[string]bool{}
	resp, err := handler(ctx, batch)
	if err != nil {
		log.Error("event handler failed; batch kept for redelivery", "messages", len(msgs), "err", err)
	}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var done []sqstypes.DeleteMessageBatchRequestEntry
	for _, m := range msgs {
		if err == nil && !failed[aws.ToString(m.MessageId)] {
			done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle})
			continue
		}
		if _, verr := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); verr != nil {
			log.Warn("releasing message", "message_id", aws.ToString(m.MessageId), "err", verr)
		}
	}
	deleteHandled(ctx, log, client, queueURL, done)
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
