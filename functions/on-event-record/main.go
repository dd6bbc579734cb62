// Command on-event-record is the subscriber that keeps each execution's record and
// event log in DynamoDB (events/record), and writes one log line per event: the
// logging subscriber runs here, from the same rule, ahead of the record.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/lambdaapp"
)

func main() {
	app, err := lambdaapp.New(context.Background(), os.Getenv)
	lambdaapp.Must(err)
	h := events.Chain(events.Logger(app.Logger), record.Handler(app.Store))
	lambda.Start(events.Subscriber(h, app.Logger))
}
