// Package adapter turns an http.Handler into a Lambda handler (API Gateway HTTP API
// events, streaming Function URLs) and gives every function its JSON logger. It
// imports no AWS SDK and nothing of chatter, so the smallest function (health)
// links only this and httpapi.
package adapter

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdaurl"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// API Gateway HTTP API (payload format 2.0) and Function URL event types, as
// aws-lambda-go defines them.
type (
	APIGatewayRequest    = awsevents.APIGatewayV2HTTPRequest
	APIGatewayResponse   = awsevents.APIGatewayV2HTTPResponse
	FunctionURLRequest   = awsevents.LambdaFunctionURLRequest
	FunctionURLStreaming = awsevents.LambdaFunctionURLStreamingResponse
)

// APIGatewayHandler adapts h to API Gateway HTTP API (payload 2.0) events. The
// authorizer's claims reach httpcore.APIGateway through the request context.
func APIGatewayHandler(h http.Handler) func(context.Context, APIGatewayRequest) (APIGatewayResponse, error) {
	return httpadapter.NewV2(h).ProxyWithContext
}

// NewLogger is the JSON logger every function logs with (stderr, so stdout carries
// only the metrics subscriber's EMF lines).
func NewLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(os.Stderr, nil)) }

// FunctionURLHandler adapts h to a Function URL with InvokeMode RESPONSE_STREAM:
// what h writes reaches the client as it is written.
//
// lambdaurl's writer is unbuffered (a pipe the runtime reads) but has no Flush, so
// http.ResponseController.Flush would fail with http.ErrNotSupported and end every
// SSE stream at its first frame; flushWriter supplies the Flush that has nothing to
// do.
func FunctionURLHandler(h http.Handler) func(context.Context, *FunctionURLRequest) (*FunctionURLStreaming, error) {
	return lambdaurl.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(flushWriter{w}, r)
	}))
}

type flushWriter struct{ http.ResponseWriter }

// Flush does nothing: every Write already went into the response pipe.
func (flushWriter) Flush() {}

func (f flushWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
