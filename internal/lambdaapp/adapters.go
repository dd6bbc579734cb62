package lambdaapp

import (
	"context"
	"net/http"

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

func newV2(h http.Handler) func(context.Context, APIGatewayRequest) (APIGatewayResponse, error) {
	return httpadapter.NewV2(h).ProxyWithContext
}

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
