// Package selfauth holds the mains of the functions that verify tokens themselves
// against the issuer's JWKS: those on a Function URL (chat-stream, v1-stream), which
// no authorizer stands in front of, and the OpenAI-compatible routes behind the HTTP
// API, which have none so that a bad token is answered in OpenAI's error shape. It is
// apart from runner because it links the JWT library (jwtauth), which every other
// function — reading the claims API Gateway's authorizer verified — does without.
package selfauth

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/runner"
)

// StartChatStream is the main of chat-stream: on a Function URL (InvokeMode
// RESPONSE_STREAM), the one place a deployed stage streams token by token (API
// Gateway buffers whole responses and ends them at 30 s). It serves the streaming
// chat route and every execute route (each streams with ?stream=true or Accept:
// text/event-stream, as locally). No authorizer stands in front of a Function URL,
// so the function verifies each token against the issuer's JWKS.
func StartChatStream() {
	_, x, rt := setup()
	chat.Register(rt, x)
	lambda.Start(lambdaapp.FunctionURLHandler(rt))
}

// setup is what every main here starts with: the app, its executor, and a router
// whose routes verify tokens against the issuer's JWKS.
func setup() (*lambdaapp.App, *executor.Executor, *httpcore.Router) {
	ctx := context.Background()
	app, err := lambdaapp.New(ctx, os.Getenv)
	lambdaapp.Must(err)
	auth, err := jwks(ctx, app.Config)
	lambdaapp.Must(err)
	x, err := runner.NewExecutor(ctx, app, os.Getenv)
	lambdaapp.Must(err)
	return app, x, app.Router(auth)
}

// jwks verifies tokens against the issuer's key set, for the Function URL, which no
// API Gateway authorizer stands in front of. The set is fetched on first use, not
// here.
func jwks(ctx context.Context, c lambdaapp.Config) (*jwtauth.JWKS, error) {
	if c.JWTIssuer == "" || c.JWTAudience == "" {
		return nil, errors.Join(
			&lambdaapp.ConfigError{Var: "CHATTER_JWT_ISSUER", Reason: "is required where tokens are verified in the function"},
			&lambdaapp.ConfigError{Var: "CHATTER_JWT_AUDIENCE", Reason: "is required where tokens are verified in the function"})
	}
	j, err := jwtauth.NewJWKS(ctx, jwtauth.JWKSConfig{URL: c.JWKSURL, Issuer: c.JWTIssuer, Audience: c.JWTAudience})
	if err != nil {
		return nil, fmt.Errorf("selfauth: %w", err)
	}
	return j, nil
}

// StartOpenAI is the main of a function behind API Gateway serving one route of
// the OpenAI-compatible surface (v1-chat-completions, v1-models). Its route has no
// JWT authorizer: the function verifies tokens against the issuer's JWKS itself,
// so a missing or bad token is answered in OpenAI's error shape, not API Gateway's.
func StartOpenAI(pattern string) {
	app, x, rt := setup()
	lambdaapp.Must(runner.MountOpenAI(rt, openaiapi.Deps{Executor: x, Catalog: app.Store}, pattern))
	lambda.Start(lambdaapp.APIGatewayHandler(rt))
}

// StartOpenAIStream is the main of v1-stream: the OpenAI-compatible surface (both
// routes, stream: true token by token) on its own Function URL, the base URL an
// OpenAI client that streams is given (<url>v1). It verifies tokens itself, like
// chat-stream.
func StartOpenAIStream() {
	app, x, rt := setup()
	openaiapi.Register(rt, openaiapi.Deps{Executor: x, Catalog: app.Store})
	lambda.Start(lambdaapp.FunctionURLHandler(rt))
}
