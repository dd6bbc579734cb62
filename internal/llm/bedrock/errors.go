package bedrock

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/chatterhq/chatter/internal/llm"
)

// apiCodes classifies Bedrock's modelled exceptions and the generic AWS auth errors.
// The same names arrive as HTTP errors of the initial call and, lower-camel-cased in
// the :exception-type header, as exception frames inside the stream; the SDK turns
// both into the same types.
var apiCodes = map[string]llm.ErrorCode{
	"ThrottlingException":           llm.CodeRateLimited,
	"ServiceQuotaExceededException": llm.CodeRateLimited,
	"TooManyRequestsException":      llm.CodeRateLimited,

	"ServiceUnavailableException": llm.CodeUnavailable,
	"InternalServerException":     llm.CodeUnavailable,
	"ModelNotReadyException":      llm.CodeUnavailable,
	"ModelTimeoutException":       llm.CodeUnavailable,

	"ModelStreamErrorException": llm.CodeModel,
	"ModelErrorException":       llm.CodeModel,

	"ValidationException":       llm.CodeInvalidRequest,
	"ResourceNotFoundException": llm.CodeInvalidRequest,
	"ConflictException":         llm.CodeInvalidRequest,
	"SerializationException":    llm.CodeInvalidRequest,

	"AccessDeniedException":               llm.CodeAuth,
	"UnrecognizedClientException":         llm.CodeAuth,
	"InvalidSignatureException":           llm.CodeAuth,
	"IncompleteSignatureException":        llm.CodeAuth,
	"MissingAuthenticationTokenException": llm.CodeAuth,
	"ExpiredTokenException":               llm.CodeAuth,
}

// CallError classifies the failure of any Bedrock runtime call (InvokeModel for
// embeddings too), so Bedrock's error codes have one owner.
func CallError(ctx context.Context, provider string, err error) *llm.Error {
	return callError(ctx, provider, err)
}

// callError maps a failure of the initial ConverseStream call.
func callError(ctx context.Context, provider string, err error) *llm.Error {
	if e := llm.ContextError(provider, err); e != nil {
		return e
	}
	// The SDK does not always wrap the context's error when a call is cancelled
	// while it waits for the response.
	if e := llm.ContextError(provider, ctx.Err()); e != nil {
		return e
	}
	if e := apiError(provider, err); e != nil {
		return e
	}
	status := httpStatus(err)
	code := llm.CodeUnavailable // no response, or one that was not an API error
	if status != 0 {
		code = llm.CodeForStatus(status)
	}
	return &llm.Error{Provider: provider, Code: code, Status: status, Message: "bedrock call failed: " + err.Error(), Err: err}
}

// streamError maps the error that ended the event stream. Anything that is neither an
// exception frame nor a broken connection is a frame the SDK could not decode.
func streamError(provider string, err error) *llm.Error {
	if e := llm.ContextError(provider, err); e != nil {
		return e
	}
	if e := apiError(provider, err); e != nil {
		return e
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return &llm.Error{Provider: provider, Code: llm.CodeUnavailable, Message: "event stream connection failed: " + err.Error(), Err: err}
	}
	return &llm.Error{Provider: provider, Code: llm.CodeMalformed, Message: "undecodable event stream frame: " + err.Error(), Err: err}
}

func apiError(provider string, err error) *llm.Error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return nil
	}
	status := httpStatus(err)
	code, ok := apiCodes[exceptionName(ae.ErrorCode())]
	if !ok {
		switch {
		case status != 0:
			code = llm.CodeForStatus(status)
		case ae.ErrorFault() == smithy.FaultServer:
			code = llm.CodeUnavailable
		default:
			code = llm.CodeInvalidRequest
		}
	}
	msg := ae.ErrorMessage()
	if msg == "" {
		msg = ae.ErrorCode()
	}
	return &llm.Error{Provider: provider, Code: code, Status: status, Message: msg, Err: err, RetryAfter: retryAfter(err)}
}

// retryAfter reads the Retry-After of the HTTP response the SDK attached to err.
func retryAfter(err error) time.Duration {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return llm.ParseRetryAfter(re.Response.Header, time.Now())
	}
	return 0
}

// exceptionName upper-cases the first letter: an exception frame whose type this SDK
// does not model (modelTimeoutException) keeps the lower-camel :exception-type as code.
func exceptionName(code string) string {
	if code != "" && code[0] >= 'a' && code[0] <= 'z' {
		return string(code[0]-'a'+'A') + code[1:]
	}
	return code
}

// httpStatus finds the response status the SDK attached to err, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
