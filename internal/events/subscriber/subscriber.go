// Package subscriber builds chatter's two event subscribers exactly once, for the
// Lambdas (functions/on-event-record, functions/on-event-metrics) and the dev
// stack's local delivery alike. Both take a delivered batch of SQS messages
// (events.BatchHandler: the rule's queue feeds them) and answer its failed messages:
//
//   - Record: one structured log line per event (the logging subscriber), then the
//     execution records and event logs of the whole batch at once
//     (record.ApplyBatch: one log write and at most one record update per
//     execution), so a busy table takes a tenth of the requests.
//   - Metrics: one CloudWatch EMF line per relevant event, each event id counted
//     once, message by message.
package subscriber

import (
	"context"
	"io"
	"log/slog"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Record returns the on-event-record handler.
func Record(s record.Repo, logger *slog.Logger) events.BatchHandler {
	logLine := events.Logger(logger)
	return events.Batch(func(ctx context.Context, evs []events.Event) []error {
		for _, e := range evs {
			_ = logLine(ctx, e) // a log line never fails
		}
		return record.ApplyBatch(ctx, s, evs)
	}, logger)
}

// Metrics returns the on-event-metrics handler writing EMF lines to w (stdout in
// Lambda) under namespace ("" = events.DefaultNamespace). Built-in template ids are
// a small fixed set, so only they become a workflow dimension; user definitions and
// templates would make a metric per user.
func Metrics(s record.Seen, namespace string, w io.Writer, logger *slog.Logger) events.BatchHandler {
	m := events.Metrics{Namespace: namespace, WorkflowBounded: func(src events.SourceRef) bool {
		_, ok := workflow.Builtin(src.ID)
		return src.Kind == "template" && ok
	}}
	return events.EachMessage(events.Subscriber(events.Once(record.Marker(s, nil), m.Writer(w)), logger), logger)
}
