package httpapi

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of every route, served as is at GET
// /api/v1/openapi.json. It is embedded bytes so no OpenAPI library is linked into a
// function; tests in httpapi/resources check it and real responses against it.
//
//go:embed openapi.json
var OpenAPI []byte
