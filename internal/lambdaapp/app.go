// Package lambdaapp turns chatter's handlers into Lambda functions: configuration
// from the environment, AWS clients built once, the DynamoDB store, the router with
// the right authenticator, and the adapters to API Gateway HTTP API events
// (aws-lambda-go-api-proxy httpadapter V2) and to streaming Function URLs
// (lambdaurl). It imports neither the executor nor any LLM SDK, so CRUD and read
// functions stay small; functions that run workflows add internal/lambdaapp/runner.
//
// API:
//
//	ConfigFromEnv(getenv) (Config, error)     every CHATTER_* variable; *ConfigError per bad one
//	AWSFromEnv(getenv, Config) (aws.Config, error)  credentials and region from the environment, BaseEndpoint
//	New(ctx, getenv) (*App, error)            Config + AWSFromEnv + *dynamo.Store + JSON logger
//	NewWith(Config, aws.Config, *slog.Logger) *App   the same from values (dev server, tests)
//	(*App).Router(auth) *httpcore.Router       standard chain; limiter = the store, rates, body limit
//	(*App).ResourceDeps() resources.Deps      store, validation, defaults for resources.Routes/Register
//	(*App).MountResource(rt, route)          one resources.Route* variable, class "other"
//	APIGatewayHandler(h) / FunctionURLHandler(h)   Lambda handlers of an http.Handler
//	StartResource(route, v) / Must(err)      what a function's main calls (health: package health)
//
// The local dev server builds the same App with NewWith and mounts every route with
// resources.Register(app.Router(staticKeys), app.ResourceDeps()).
package lambdaapp

//go:generate go run ./gen

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/lambdaapp/adapter"
	"github.com/chatterhq/chatter/internal/store/dynamo"
)

// App is what a function builds once, at init: its configuration, AWS
// configuration, store and logger.
type App struct {
	Config Config
	AWS    aws.Config
	Store  *dynamo.Store
	Logger *slog.Logger
	// Validation is what the validating routes (resources.Route.Validates) check
	// definitions with; zero, they answer 500. Only a function that validates sets
	// it, so no other links the tools or the condition compiler.
	Validation resources.Validation
}

// NewLogger is adapter.NewLogger: the JSON logger every function logs with.
func NewLogger() *slog.Logger { return adapter.NewLogger() }

// New reads the configuration and the AWS configuration (AWSFromEnv) through
// getenv and builds the App. It makes no network call.
func New(_ context.Context, getenv func(string) string) (*App, error) {
	c, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := AWSFromEnv(getenv, c)
	if err != nil {
		return nil, err
	}
	return NewWith(c, awsCfg, NewLogger()), nil
}

// NewWith builds the App from values: the store on c.Table through a DynamoDB
// client of awsCfg. A nil logger means slog.Default().
func NewWith(c Config, awsCfg aws.Config, logger *slog.Logger) *App {
	if logger == nil {
		logger = slog.Default()
	}
	st := dynamo.New(dynamodb.NewFromConfig(awsCfg), c.Table, dynamo.Options{
		MaxContentBytes: c.MaxMessageBytes, CursorKey: c.CursorKey, Logger: logger})
	return &App{Config: c, AWS: awsCfg, Store: st, Logger: logger}
}

// Router returns a router whose routes authenticate with auth (httpcore.APIGateway
// behind the HTTP API, JWKS on the Function URL, StaticKeys in the dev server and
// tests), are rate limited through the store and answer CORS when Config.CORS is
// set.
func (a *App) Router(auth httpcore.Authenticator) *httpcore.Router {
	return httpapi.NewRouter(httpapi.Config{Auth: auth, Limiter: a.Store, Idempotency: a.Store, Rates: a.Config.Rates,
		Ready: a.Store.Ping, CORS: a.Config.CORS, BodyLimit: a.Config.BodyLimit, Logger: a.Logger})
}

// Defaults is what GET /workflows/defaults reports. The providers are the
// configured default only: resolving which providers are enabled (providers.Load)
// would link every LLM SDK into this read function.
func (a *App) Defaults() resources.Defaults {
	c := a.Config
	d := resources.Defaults{DefaultProvider: c.DefaultProvider, DefaultModel: c.DefaultModel,
		Limits: resources.Limits{MaxMessageBytes: c.MaxMessageBytes, MaxBodyBytes: c.BodyLimit,
			RateLimits: resources.RateLimits(c.Rates)}}
	if c.DefaultProvider != "" {
		d.Providers = []string{c.DefaultProvider}
	}
	return d
}

// ResourceDeps is what resources.Routes and resources.Register need.
func (a *App) ResourceDeps() resources.Deps {
	return resources.Deps{Store: a.Store, Validation: a.Validation, Defaults: a.Defaults(),
		StreamURL: a.Config.StreamURL}
}

// ErrUnknownRoute is returned for a pattern no package defines.
var ErrUnknownRoute = errors.New("lambdaapp: unknown route")

// MountResource mounts route built on the App's dependencies (under each of its
// MuxPatterns), in the "other" rate class, as resources.Register would.
func (a *App) MountResource(rt *httpcore.Router, route resources.RouteSpec) {
	r := route.Build(a.ResourceDeps())
	for _, p := range r.MuxPatterns() {
		rt.Mount(p, r.Handler, r.Options()...)
	}
}

// API Gateway HTTP API (payload format 2.0) and Function URL event types, as
// aws-lambda-go defines them (see package adapter).
type (
	APIGatewayRequest    = adapter.APIGatewayRequest
	APIGatewayResponse   = adapter.APIGatewayResponse
	FunctionURLRequest   = adapter.FunctionURLRequest
	FunctionURLStreaming = adapter.FunctionURLStreaming
)

// APIGatewayHandler is adapter.APIGatewayHandler (HTTP API payload 2.0 events).
func APIGatewayHandler(h http.Handler) func(context.Context, APIGatewayRequest) (APIGatewayResponse, error) {
	return adapter.APIGatewayHandler(h)
}

// FunctionURLHandler is adapter.FunctionURLHandler (streaming Function URLs).
func FunctionURLHandler(h http.Handler) func(context.Context, *FunctionURLRequest) (*FunctionURLStreaming, error) {
	return adapter.FunctionURLHandler(h)
}

// Must ends a function's init on err: logged once as JSON, exit status 1, which
// Lambda reports as an init error. Only for main, never inside a handler.
func Must(err error) {
	if err != nil {
		NewLogger().Error("function init failed", "err", err)
		os.Exit(1)
	}
}

// StartResource is the whole main of a CRUD or read function: build the App from
// the environment with validation v, mount route (a resources.Route* variable, so
// the function links that route's handler only) behind the API Gateway
// authenticator, and serve HTTP API events. v is
// resources.NewValidation(tools.Builtins(), cond.Compiler) for a route that
// validates (Route.Validates), the zero Validation for any other.
func StartResource(route resources.RouteSpec, v resources.Validation) {
	app, err := New(context.Background(), os.Getenv)
	Must(err)
	app.Validation = v
	rt := app.Router(httpcore.APIGateway{})
	app.MountResource(rt, route)
	lambda.Start(APIGatewayHandler(rt))
}

// StartReady serves GET /ready (and /health): open like health, but it builds the
// store to ask the table whether it answers.
func StartReady() {
	app, err := New(context.Background(), os.Getenv)
	Must(err)
	lambda.Start(APIGatewayHandler(app.Router(httpcore.APIGateway{})))
}
