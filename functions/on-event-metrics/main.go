// Command on-event-metrics is the subscriber that turns workflow events into
// CloudWatch metrics: EMF lines on stdout, which Lambda's log group converts. Each
// event id is marked in the table first (its only table permission: PutItem on
// those marker items), so a redelivered event counts nothing.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/events/subscriber"
	"github.com/chatterhq/chatter/internal/lambdaapp"
)

func main() {
	app, err := lambdaapp.New(context.Background(), os.Getenv)
	lambdaapp.Must(err)
	lambda.Start(subscriber.Metrics(app.Store, app.Config.MetricsNamespace, os.Stdout, app.Logger))
}
