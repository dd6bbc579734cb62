// Command on-event-metrics is the subscriber that turns workflow events into
// CloudWatch metrics: EMF lines on stdout, which Lambda's log group converts.
// Delivery is at-least-once, and a written EMF line counts at once, so each event id
// is first marked in the table (events.Once with record.Marker): a redelivered event
// writes nothing. Its only table permission is PutItem on those marker items.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/workflow"
)

func main() {
	app, err := lambdaapp.New(context.Background(), os.Getenv)
	lambdaapp.Must(err)
	m := events.Metrics{
		Namespace: app.Config.MetricsNamespace, // empty: events.DefaultNamespace
		// Built-in templates are a small fixed set, so they may be a dimension; user
		// definitions and templates would be a metric per user.
		WorkflowBounded: func(s events.SourceRef) bool {
			_, ok := workflow.Builtin(s.ID)
			return s.Kind == "template" && ok
		},
	}
	h := events.Once(record.Marker(app.Store, nil), m.Writer(os.Stdout))
	lambda.Start(events.Subscriber(h, app.Logger))
}
