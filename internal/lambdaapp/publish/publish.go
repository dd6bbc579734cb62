// Package publish builds the EventBridge publisher of the functions that emit
// workflow events (the workflow functions and the sweeper), apart from lambdaapp so
// the CRUD functions link no EventBridge client.
package publish

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/lambdaapp"
)

// New returns the publisher of app's bus (CHATTER_EVENT_BUS). A terminal
// event that cannot be delivered is applied to the store by record.Apply, the very
// update on-event-record makes, so the execution's final state is never lost.
func New(app *lambdaapp.App, client events.PutEventsAPI) (*events.Publisher, error) {
	if app.Config.EventBus == "" {
		return nil, &lambdaapp.ConfigError{Var: "CHATTER_EVENT_BUS", Reason: "is required by functions that run workflows"}
	}
	if client == nil {
		client = eventbridge.NewFromConfig(app.AWS)
	}
	p, err := events.NewPublisher(events.PublisherOptions{Client: client, BusName: app.Config.EventBus,
		Logger: app.Logger, Fallback: func(ctx context.Context, e events.Event) error {
			return record.Apply(ctx, app.Store, e)
		}})
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return p, nil
}
