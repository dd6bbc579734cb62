// Package runner wires the executor for the functions that run workflows (chat,
// chat-stream, the execute routes and the OpenAI-compatible /v1 routes): providers from the environment
// (providers.Load), an EventBridge publisher whose fallback records a terminal
// event through record.Apply on the store when the bus stays unreachable, and the
// execution routes of httpapi/chat. It is apart from lambdaapp because it links the
// executor and every LLM SDK, which CRUD functions must not pay for at cold start.
package runner

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/docsapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/publish"
	"github.com/chatterhq/chatter/internal/llm/providers"
)

// NewPublisher is publish.New (kept for the callers that build an
// executor).
func NewPublisher(app *lambdaapp.App, client events.PutEventsAPI) (*events.Publisher, error) {
	return publish.New(app, client)
}

// NewExecutor builds the executor over app's store, the publisher and the providers
// configured in getenv (see providers.Load: outside the local stage a provider must
// be configured; locally, with none, the offline devllm answers). Its retriever is
// the user's documents (docsapp.NewRetriever: hybrid search over the stored chunks).
func NewExecutor(ctx context.Context, app *lambdaapp.App, getenv providers.Env) (*executor.Executor, error) {
	return newExecutor(ctx, app, getenv, nil)
}

func newExecutor(ctx context.Context, app *lambdaapp.App, getenv providers.Env, bus events.PutEventsAPI) (*executor.Executor, error) {
	set, err := providers.Load(ctx, getenv, &app.AWS, providers.Options{})
	if err != nil {
		return nil, err
	}
	if set.Notice != "" {
		app.Logger.Info("providers", "notice", set.Notice, "default", set.Default)
	}
	pub, err := NewPublisher(app, bus)
	if err != nil {
		return nil, err
	}
	x, err := executor.New(executor.Options{Store: app.Store, Frames: app.Store, Emitter: pub, Providers: set.Providers,
		Retriever:       docsapp.NewRetriever(app, getenv),
		DefaultProvider: set.Default, DefaultModels: set.Models, Unavailable: set.Unavailable,
		MaxMessage: app.Config.MaxMessageBytes, Logger: app.Logger})
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return x, nil
}

// Mount mounts the one execution route pattern (a chat.Path* constant) on rt.
func Mount(rt *httpcore.Router, x *executor.Executor, pattern string, opts ...chat.Option) error {
	for _, r := range chat.Routes {
		if r.Pattern == pattern {
			rt.Mount(pattern, r.Handler(x, opts...), r.Class)
			return nil
		}
	}
	return fmt.Errorf("%w %q", lambdaapp.ErrUnknownRoute, pattern)
}

// StartExecute is the main of a function behind API Gateway that runs workflows
// (chat, template-execute, ...): the route pattern, authenticated by the HTTP API's
// JWT authorizer.
func StartExecute(pattern string) {
	ctx := context.Background()
	app, err := lambdaapp.New(ctx, os.Getenv)
	lambdaapp.Must(err)
	x, err := NewExecutor(ctx, app, os.Getenv)
	lambdaapp.Must(err)
	rt := app.Router(httpcore.APIGateway{})
	lambdaapp.Must(Mount(rt, x, pattern))
	lambda.Start(lambdaapp.APIGatewayHandler(rt))
}

// MountOpenAI mounts the one OpenAI-compatible route pattern (an openaiapi.Path*
// constant) on rt.
func MountOpenAI(rt *httpcore.Router, d openaiapi.Deps, pattern string) error {
	for _, r := range openaiapi.Routes {
		if r.Pattern == pattern {
			rt.Mount(pattern, r.Handler(d), r.Options()...)
			return nil
		}
	}
	return fmt.Errorf("%w %q", lambdaapp.ErrUnknownRoute, pattern)
}
