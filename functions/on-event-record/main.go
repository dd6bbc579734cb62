// Command on-event-record is the subscriber that keeps each execution's record and
// event log in DynamoDB, and writes one log line per event: the logging subscriber
// runs here, from the same queue, ahead of the record. Its SQS event source hands
// it batches of up to 10 events; it answers the messages that failed.
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
