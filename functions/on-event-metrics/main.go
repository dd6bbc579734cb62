// Command on-event-metrics is the subscriber that turns workflow events into
// CloudWatch metrics: EMF lines on stdout, which Lambda's log group converts. It
// needs no AWS client and no table, so it reads its one setting itself rather than
// linking lambdaapp (and the DynamoDB SDK) into its cold start.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/workflow"
)

func main() {
	m := events.Metrics{
		Namespace: os.Getenv("CHATTER_METRICS_NAMESPACE"), // empty: events.DefaultNamespace
		// Built-in templates are a small fixed set, so they may be a dimension; user
		// definitions and templates would be a metric per user.
		WorkflowBounded: func(s events.SourceRef) bool {
			_, ok := workflow.Builtin(s.ID)
			return s.Kind == "template" && ok
		},
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	lambda.Start(events.Subscriber(m.Writer(os.Stdout), logger))
}
