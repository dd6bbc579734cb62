package httpcore

import (
	"errors"
	"net/http"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// Authenticator finds the user a request acts for.
type Authenticator interface {
	// Authenticate returns the user id (the token's sub). Returns an *Error with code
	// unauthorized when the token is missing or invalid (the message says what is
	// wrong, never echoing the token), or unavailable when the keys cannot be had.
	Authenticate(r *http.Request) (userID string, err error)
}

// RequireAuth authenticates every request; a failure is a 401 problem with
// WWW-Authenticate: Bearer. The user id goes into the context (UserID) and into the
// request's log lines.
func RequireAuth(a Authenticator) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uid, err := a.Authenticate(r)
			if err == nil && uid == "" {
				err = unauthorized("the token has no subject")
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					e = &Error{Code: errcode.Unauthorized, Message: "the token is not valid", Err: err}
				}
				if e.Code == errcode.Unauthorized {
					w.Header().Set("WWW-Authenticate", bearerChallenge(r))
				}
				Fail(w, r, e)
				return
			}
			if ri := reqInfo(r.Context()); ri != nil {
				ri.userID = uid
				ri.log = ri.log.With("user_id", uid)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerChallenge follows RFC 6750 section 3: no error attribute when the request
// carried no credentials, invalid_token otherwise.
func bearerChallenge(r *http.Request) string {
	if r.Header.Get("Authorization") == "" {
		return `Bearer realm="chatter"`
	}
	return `Bearer realm="chatter", error="invalid_token"`
}

func unauthorized(msg string) *Error { return &Error{Code: errcode.Unauthorized, Message: msg} }

// APIGateway reads the user from the claims API Gateway's JWT authorizer verified,
// as aws-lambda-go-api-proxy's httpadapter V2 puts them in the request context.
// It never reads the X-GoLambdaProxy-* headers, which a client could forge.
type APIGateway struct{}

func (APIGateway) Authenticate(r *http.Request) (string, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return "", unauthorized("no verified token: the request did not pass the API Gateway JWT authorizer")
	}
	sub := rc.Authorizer.JWT.Claims["sub"]
	if sub == "" {
		return "", unauthorized("the token has no subject")
	}
	return sub, nil
}
