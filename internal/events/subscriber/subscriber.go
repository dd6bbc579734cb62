// Package subscriber builds chatter's two event subscribers exactly once, for the
// Lambdas (functions/on-event-record, functions/on-event-metrics) and the dev
// stack's local delivery alike:
//
//   - Record: one structured log line per event (the logging subscriber), then the
//     execution record and event log (events/record).
//   - Metrics: one CloudWatch EMF line per relevant event, each event id counted once.
package subscriber

import (
	"context"
	"io"
	"log/slog"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Record returns the on-event-record handler, adapted to the EventBridge envelope.
func Record(s record.Repo, logger *slog.Logger) func(ctx context.Context, env events.Envelope) error {
	return events.Subscriber(events.Chain(events.Logger(logger), record.Handler(s)), logger)
}

// Metrics returns the on-event-metrics handler writing EMF lines to w (stdout in
// Lambda) under namespace ("" = events.DefaultNamespace). Built-in template ids are
// a small fixed set, so only they become a workflow dimension; user definitions and
// templates would make a metric per user.
func Metrics(s record.Seen, namespace string, w io.Writer, logger *slog.Logger) func(ctx context.Context, env events.Envelope) error {
	m := events.Metrics{Namespace: namespace, WorkflowBounded: func(src events.SourceRef) bool {
		_, ok := workflow.Builtin(src.ID)
		return src.Kind == "template" && ok
	}}
	return events.Subscriber(events.Once(record.Marker(s, nil), m.Writer(w)), logger)
}
