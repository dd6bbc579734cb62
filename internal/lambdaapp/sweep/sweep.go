// Package sweep is the main of the sweeper function. It is apart from runner so the
// sweeper links the executor's Sweeper and the publisher, not the LLM providers and
// their SDKs.
package sweep

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/publish"
)

// Start is the main of the sweeper: each scheduled invocation ends the
// overdue runs (executor.Sweeper) and publishes their execution_failed events on
// the bus, with the same fallback to record.Apply as the runs' own.
func Start() {
	app, err := lambdaapp.New(context.Background(), os.Getenv)
	lambdaapp.Must(err)
	pub, err := publish.New(app, nil)
	lambdaapp.Must(err)
	sw := &executor.Sweeper{Store: app.Store, Emitter: pub, Logger: app.Logger}
	lambda.Start(func(ctx context.Context) error {
		_, err := sw.Sweep(ctx)
		return err
	})
}
