// Package health is the whole of the health function: GET /health (liveness: the
// process answers, it touches nothing) through the same router as every other
// function (httpapi/httpcore, the part of httpapi without storage), so the answer,
// request id and access log are the same. It needs no configuration and
// no AWS client, so it imports neither lambdaapp (the AWS configuration, the
// DynamoDB store) nor any AWS SDK nor the store (and through it workflow and expr);
// readiness (is the table reachable?) is the ready function's.
package health

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/lambdaapp/adapter"
)

// Handler answers HTTP API events: GET /health behind the API Gateway
// authenticator (the route itself is open; any other path is the router's 404
// problem).
func Handler() func(context.Context, adapter.APIGatewayRequest) (adapter.APIGatewayResponse, error) {
	rt := httpcore.NewRouter(httpcore.Config{Auth: httpcore.APIGateway{}, Logger: adapter.NewLogger()})
	return adapter.APIGatewayHandler(rt)
}

// Start is the whole main of the health function.
func Start() { lambda.Start(Handler()) }
