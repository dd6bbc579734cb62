// Command on-event-record is the subscriber that keeps each execution's record and
// event log in DynamoDB, and writes one log line per event: the logging subscriber
// runs here, from the same rule, ahead of the record.
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
	lambda.Start(subscriber.Record(app.Store, app.Logger))
}
