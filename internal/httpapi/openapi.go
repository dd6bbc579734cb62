package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"strings"
)

// OpenAPI is the OpenAPI 3.1 document of every route, as written: embedded bytes so
// no OpenAPI library is linked into a function; tests in httpapi/resources check it
// and real responses against it. It names two servers: the HTTP API ("/", relative:
// the host the document was fetched from) for every operation, and on each execute
// operation first the streaming Function URL, the second host, whose URL is the
// server variable streamUrl. OpenAPIFor fills that variable in for a deployment.
//
//go:embed openapi.json
var OpenAPI []byte

// StreamURLPlaceholder is the streamUrl variable's default in the document as
// written; the stack output ChatStreamUrl is the real value.
const StreamURLPlaceholder = "https://function-url-id.lambda-url.region.on.aws"

// OpenAPIFor returns the document with the streaming Function URL's address as the
// streamUrl variable's default (OpenAPI itself when streamURL is empty), so clients
// that read servers find the second host.
func OpenAPIFor(streamURL string) []byte {
	if streamURL == "" {
		return OpenAPI
	}
	q, _ := json.Marshal(StreamURLPlaceholder)
	v, _ := json.Marshal(strings.TrimRight(streamURL, "/"))
	return bytes.ReplaceAll(OpenAPI, q, v)
}
