// Package stream is the main of chat-stream, the function on a Function URL. It is
// apart from runner because it verifies tokens itself (jwtauth, the JWT library),
// which the functions behind the HTTP API's authorizer do without.
package stream

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/runner"
)

// Start is the main of chat-stream: on a Function URL (InvokeMode
// RESPONSE_STREAM), the one place a deployed stage streams token by token (API
// Gateway buffers whole responses and ends them at 30 s). It serves the streaming
// chat route and every execute route (each streams with ?stream=true or Accept:
// text/event-stream, as locally). No authorizer stands in front of a Function URL,
// so the function verifies each token against the issuer's JWKS.
func Start() {
	ctx := context.Background()
	app, err := lambdaapp.New(ctx, os.Getenv)
	lambdaapp.Must(err)
	auth, err := jwks(ctx, app.Config)
	lambdaapp.Must(err)
	x, err := runner.NewExecutor(ctx, app, os.Getenv)
	lambdaapp.Must(err)
	rt := app.Router(auth)
	chat.Register(rt, x)
	lambda.Start(lambdaapp.FunctionURLHandler(rt))
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
		return nil, fmt.Errorf("stream: %w", err)
	}
	return j, nil
}
