package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// BatchHandler is a subscriber behind an SQS queue, as its Lambda's SQS event
// source (FunctionResponseTypes: ReportBatchItemFailures) and the dev stack's
// delivery loop call it: one delivered batch of messages, each body an EventBridge
// envelope (what a rule with an SQS target sends). It answers the messages that
// failed, by message id, so only those are delivered again and the rest are
// deleted; an error fails the whole batch.
type BatchHandler = func(ctx context.Context, batch awsevents.SQSEvent) (awsevents.SQSEventResponse, error)

// EachMessage is a BatchHandler that calls h with each message's envelope in turn
// (the metrics and ingest subscribers, which have nothing to gain from a batch).
func EachMessage(h func(ctx context.Context, env Envelope) error, logger *slog.Logger) BatchHandler {
	return func(ctx context.Context, batch awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
		var resp awsevents.SQSEventResponse
		for _, m := range batch.Records {
			env, err := envelope(m)
			if err == nil {
				err = h(ctx, env)
			}
			if err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, failed(ctx, logger, m, env, err))
			}
		}
		return resp, nil
	}
}

// Batch is a BatchHandler that decodes every message of a batch and hands their
// events to h at once (the record subscriber, which writes per execution).
// errs[i] from h is the outcome of the i-th event. A message that is not a chatter
// event is logged and acknowledged, as Subscriber does.
func Batch(h func(ctx context.Context, evs []Event) (errs []error), logger *slog.Logger) BatchHandler {
	return func(ctx context.Context, batch awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
		var resp awsevents.SQSEventResponse
		evs := make([]Event, 0, len(batch.Records))
		var msgs []int // batch.Records index of each event
		envs := make([]Envelope, len(batch.Records))
		for i, m := range batch.Records {
			env, err := envelope(m)
			envs[i] = env
			var e Event
			ok := false
			if err == nil {
				e, ok, err = decodeOrDrop(ctx, logger, env)
			}
			switch {
			case err != nil:
				resp.BatchItemFailures = append(resp.BatchItemFailures, failed(ctx, logger, m, env, err))
			case ok:
				evs, msgs = append(evs, e), append(msgs, i)
			}
		}
		if len(evs) == 0 {
			return resp, nil
		}
		errs := h(ctx, evs)
		if len(errs) != len(evs) {
			return awsevents.SQSEventResponse{}, fmt.Errorf("events: batch handler gave %d outcomes for %d events", len(errs), len(evs))
		}
		for j, err := range errs {
			if err != nil {
				m := batch.Records[msgs[j]]
				resp.BatchItemFailures = append(resp.BatchItemFailures, failed(ctx, logger, m, envs[msgs[j]], err))
			}
		}
		return resp, nil
	}
}

// envelope reads a message's body. A body that is not JSON fails its message: it
// goes to the dead-letter queue, where it can be looked at.
func envelope(m awsevents.SQSMessage) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal([]byte(m.Body), &env); err != nil {
		return env, fmt.Errorf("events: message %s is not an EventBridge envelope: %w", m.MessageId, err)
	}
	return env, nil
}

// failed logs a failed message (the one place its error is logged: the response
// carries only its id) and names it for redelivery.
func failed(ctx context.Context, logger *slog.Logger, m awsevents.SQSMessage, env Envelope, err error) awsevents.SQSBatchItemFailure {
	logger.ErrorContext(ctx, "event handler failed; message kept for redelivery", "message_id", m.MessageId,
		"detail_type", env.DetailType, "err", err)
	return awsevents.SQSBatchItemFailure{ItemIdentifier: m.MessageId}
}
