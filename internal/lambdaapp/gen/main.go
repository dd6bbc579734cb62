// Command gen writes, from the one table in table.go, every generated part of the
// deployment: functions/<name>/main.go (a line of wiring each), the functions'
// section of template.yaml (between the BEGIN/END GENERATED markers) and the
// events/<name>.json samples. Run it with `go generate ./internal/lambdaapp` (or
// `make generate`); its test fails when a generated file is out of date.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
)

func main() {
	root, err := repoRoot()
	if err == nil {
		err = write(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// repoRoot is the nearest directory upwards holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func write(root string) error {
	files, err := render(root)
	if err != nil {
		return err
	}
	for rel, b := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, b) {
			continue
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Markers around the generated parts of template.yaml.
const (
	beginMarker       = "  # BEGIN GENERATED FUNCTIONS: go generate ./internal/lambdaapp (internal/lambdaapp/gen/table.go)\n"
	endMarker         = "  # END GENERATED FUNCTIONS\n"
	corsBeginMarker   = "      # BEGIN GENERATED CORS: go generate ./internal/lambdaapp (internal/httpapi/cors.go)\n"
	corsEndMarker     = "      # END GENERATED CORS\n"
	routesBeginMarker = "      # BEGIN GENERATED ROUTES: go generate ./internal/lambdaapp (internal/lambdaapp/gen/table.go)\n"
	routesEndMarker   = "      # END GENERATED ROUTES\n"
)

// section is a generated part of template.yaml, between its markers.
type section struct {
	begin, end string
	body       func() string
}

var sections = []section{
	{beginMarker, endMarker, templateSection},
	{corsBeginMarker, corsEndMarker, httpAPICORS},
	{routesBeginMarker, routesEndMarker, httpAPIRoutes},
}

// corsLines is the browser policy of httpcore.CORS in the property names API
// Gateway's CorsConfiguration and a Function URL's Cors share: the origins of the
// AllowedOrigins parameter, and the methods, headers and preflight lifetime the
// middleware uses; credentials is the AllowCredentials value.
func corsLines(credentials string) []string {
	list := func(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }
	return []string{
		"AllowOrigins: !Ref AllowedOrigins",
		"AllowMethods: " + list(httpcore.CORSMethods()),
		"AllowHeaders: " + list(httpcore.CORSAllowHeaders()),
		"ExposeHeaders: " + list(httpcore.CORSExposeHeaders()),
		"AllowCredentials: " + credentials,
		"MaxAge: " + strconv.Itoa(int(httpcore.CORSMaxAge/time.Second)),
	}
}

// functionURLCORS is the streaming Function URL's Cors, under FunctionUrlConfig.
func functionURLCORS() string {
	return "        Cors:\n          " + strings.Join(corsLines("!If [AnyOrigin, false, true]"), "\n          ") + "\n"
}

// httpAPICORS is the HttpApi's CorsConfiguration. It is one !If over two whole
// configurations, not an !If inside one: SAM takes an intrinsic AllowOrigins for
// the entire configuration and drops every other property.
func httpAPICORS() string {
	var b strings.Builder
	b.WriteString("      CorsConfiguration: !If\n        - AnyOrigin\n")
	for _, cred := range []string{"false", "true"} {
		b.WriteString("        - " + strings.Join(corsLines(cred), "\n          ") + "\n")
	}
	return b.String()
}

// render returns every generated file by its path relative to root. template.yaml
// is read from root, its generated section replaced.
func render(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, f := range functions {
		src, err := mainGo(f)
		if err != nil {
			return nil, err
		}
		out[filepath.Join("functions", f.name, "main.go")] = src
		ev, err := sampleEvent(f)
		if err != nil {
			return nil, err
		}
		out[filepath.Join("events", f.name+".json")] = ev
	}
	tpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	s := string(tpl)
	for _, sec := range sections {
		i, j := strings.Index(s, sec.begin), strings.Index(s, sec.end)
		if i < 0 || j < i {
			return nil, fmt.Errorf("template.yaml lacks the generated-section markers %q and %q", sec.begin, sec.end)
		}
		s = s[:i+len(sec.begin)] + sec.body() + s[j:]
	}
	out["template.yaml"] = []byte(s)
	return out, nil
}

const header = "// Code generated by internal/lambdaapp/gen from its table.go; DO NOT EDIT.\n\n"

func mainGo(f function) ([]byte, error) {
	var b strings.Builder
	b.WriteString(header)
	switch f.kind {
	case kindHealth:
		fmt.Fprintf(&b, "// Command %s answers GET /health, the one route without a token.\npackage main\n\n", f.name)
		b.WriteString("import \"github.com/chatterhq/chatter/internal/lambdaapp/health\"\n\nfunc main() { health.Start() }\n")
	case kindReady:
		fmt.Fprintf(&b, "// Command %s answers GET /ready, open like health: is the table reachable?\npackage main\n\n", f.name)
		b.WriteString("import \"github.com/chatterhq/chatter/internal/lambdaapp\"\n\nfunc main() { lambdaapp.StartReady() }\n")
	case kindStateless, kindRead, kindWrite:
		fmt.Fprintf(&b, "// Command %s is the Lambda of %s behind the HTTP API.\npackage main\n\n", f.name, f.pattern)
		if !f.validates() {
			b.WriteString("import (\n\t\"github.com/chatterhq/chatter/internal/httpapi/resources\"\n\t\"github.com/chatterhq/chatter/internal/lambdaapp\"\n)\n\n")
			fmt.Fprintf(&b, "func main() { lambdaapp.StartResource(%s, resources.Validation{}) }\n", f.goConst)
			break
		}
		b.WriteString("import (\n\t\"github.com/chatterhq/chatter/internal/httpapi/resources\"\n\t\"github.com/chatterhq/chatter/internal/lambdaapp\"\n" +
			"\t\"github.com/chatterhq/chatter/internal/tools\"\n\t\"github.com/chatterhq/chatter/internal/workflow/cond\"\n)\n\n")
		fmt.Fprintf(&b, "func main() {\n\tlambdaapp.StartResource(%s, resources.NewValidation(tools.Builtins(), cond.Compiler))\n}\n", f.goConst)
	case kindExec:
		fmt.Fprintf(&b, "// Command %s is the Lambda of %s behind the HTTP API.\npackage main\n\n", f.name, f.pattern)
		b.WriteString("import (\n\t\"github.com/chatterhq/chatter/internal/httpapi/chat\"\n\t\"github.com/chatterhq/chatter/internal/lambdaapp/runner\"\n)\n\n")
		fmt.Fprintf(&b, "func main() { runner.StartExecute(%s) }\n", f.goConst)
	case kindDocuments:
		fmt.Fprintf(&b, "// Command %s is the Lambda of %s behind the HTTP API.\npackage main\n\n", f.name, f.pattern)
		b.WriteString("import (\n\t\"github.com/chatterhq/chatter/internal/httpapi/documents\"\n\t\"github.com/chatterhq/chatter/internal/lambdaapp/docsapp\"\n)\n\n")
		fmt.Fprintf(&b, "func main() { docsapp.StartRoute(%s) }\n", f.goConst)
	case kindStream:
		fmt.Fprintf(&b, "// Command %s serves %s as SSE on a Function URL (InvokeMode RESPONSE_STREAM).\npackage main\n\n", f.name, f.pattern)
		b.WriteString("import \"github.com/chatterhq/chatter/internal/lambdaapp/runner/selfauth\"\n\nfunc main() { selfauth.StartChatStream() }\n")
	case kindOpenAI:
		fmt.Fprintf(&b, "// Command %s is the Lambda of %s (OpenAI-compatible) behind the HTTP API.\npackage main\n\n", f.name, f.pattern)
		b.WriteString("import (\n\t\"github.com/chatterhq/chatter/internal/httpapi/openaiapi\"\n\t\"github.com/chatterhq/chatter/internal/lambdaapp/runner/selfauth\"\n)\n\n")
		fmt.Fprintf(&b, "func main() { selfauth.StartOpenAI(%s) }\n", f.goConst)
	case kindOpenAIStream:
		fmt.Fprintf(&b, "// Command %s serves the OpenAI-compatible /v1 routes, %s streaming as SSE, on a Function URL (InvokeMode RESPONSE_STREAM).\npackage main\n\n", f.name, f.pattern)
		b.WriteString("import \"github.com/chatterhq/chatter/internal/lambdaapp/runner/selfauth\"\n\nfunc main() { selfauth.StartOpenAIStream() }\n")
	}
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("formatting %s: %w", f.name, err)
	}
	return src, nil
}

// validates: the route checks definitions or templates (resources.Route.Validates),
// so its function is given the tools and the condition compiler.
func (f function) validates() bool {
	for _, r := range resources.Routes(resources.Deps{}) {
		if r.Pattern == f.pattern {
			return r.Validates()
		}
	}
	return false
}

// open: the route answers without a token.
func (f function) open() bool {
	return f.kind == kindHealth || f.kind == kindReady || resources.Route{Pattern: f.pattern}.Open()
}

// method and path of "METHOD /path".
func (f function) method() string { m, _, _ := strings.Cut(f.pattern, " "); return m }
func (f function) path() string   { _, p, _ := strings.Cut(f.pattern, " "); return p }

// logicalID is the template's resource name prefix: definitions-list ->
// DefinitionsList.
func (f function) logicalID() string {
	var b strings.Builder
	for _, part := range strings.Split(f.name, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// apiPath is the route's path as the HTTP API declares it: API Gateway cannot
// declare a trailing slash, and routes "/x/" to the route of "/x" (the function
// serves both; see resources.Route.MuxPatterns).
func (f function) apiPath() string {
	if p := strings.TrimSuffix(f.path(), "/"); p != "" {
		return p
	}
	return f.path()
}

// routeKey is the HTTP API's route key of the function ("METHOD /declared/path").
func (f function) routeKey() string { return f.method() + " " + f.apiPath() }

// sampleIDs are the sample values of path wildcards: {id} by the resource it
// follows, the others by name.
var sampleIDs = map[string]string{"definitions": sampleDefinition, "templates": sampleTemplate,
	"executions": sampleExecution, "conversations": sampleConversation,
	"{message_id}": sampleMessage, "{execution_id}": sampleExecution, "{document_id}": sampleDocument}

// pathParams maps each wildcard of the route to its sample value.
func (f function) pathParams() map[string]string {
	segs := strings.Split(f.path(), "/")
	out := map[string]string{}
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		v := sampleIDs[seg]
		if seg == "{id}" && i > 0 {
			v = sampleIDs[segs[i-1]]
		}
		out[name] = v
	}
	return out
}

// samplePath fills the wildcards of the route with their sample values.
func (f function) samplePath() string {
	p := f.path()
	for name, v := range f.pathParams() {
		p = strings.Replace(p, "{"+name+"}", v, 1)
	}
	return p
}

func templateSection() string {
	var b strings.Builder
	for _, f := range functions {
		for _, v := range f.variants() {
			functionSection(&b, f, v)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// functionSection writes one build of a function, its log group and, for a route
// of the HTTP API's DefinitionBody, its invoke permission.
func functionSection(b *strings.Builder, f function, v variant) {
	id := f.logicalID() + v.suffix
	cond := ""
	if v.condition != "" {
		cond = "    Condition: " + v.condition + "\n"
	}
	// The Bedrock-only build has names of its own: switching Providers on a
	// deployed stack creates the new build before it deletes the old one, and
	// function and log group names are unique.
	name := f.name
	if v.bedrock {
		name += "-bedrock"
	}
	// sam build runs `make build-<LogicalId>` in the CodeUri folder (the
	// Makefile's build-%Function targets); a makefile build is never shared.
	fmt.Fprintf(b, "\n  %sFunction:\n    Type: AWS::Serverless::Function\n%s    Metadata:\n      BuildMethod: makefile\n    Properties:\n", id, cond)
	fmt.Fprintf(b, "      FunctionName: !Sub chatter-${Stage}-%s\n", name)
	desc := f.pattern
	if v.bedrock {
		desc += " (Bedrock only)"
	}
	fmt.Fprintf(b, "      Description: %s\n", desc)
	b.WriteString("      CodeUri: .\n")
	fmt.Fprintf(b, "      LoggingConfig:\n        LogGroup: !Ref %sLogs\n", id)
	if f.execs() {
		var env []string
		// A Bedrock-only build has no OpenAI or Anthropic SDK and would refuse to
		// start with a key configured: it gets neither the keys nor their policy.
		if !v.bedrock {
			for _, k := range []struct{ name, cond, param string }{
				{"OPENAI_API_KEY_SECRET_ID", "HasOpenAIKeySecret", "OpenAIApiKeySecretArn"},
				{"OPENAI_API_KEY_PARAMETER", "HasOpenAIKeyParameter", "OpenAIApiKeyParameter"},
				{"ANTHROPIC_API_KEY_SECRET_ID", "HasAnthropicKeySecret", "AnthropicApiKeySecretArn"},
				{"ANTHROPIC_API_KEY_PARAMETER", "HasAnthropicKeyParameter", "AnthropicApiKeyParameter"},
			} {
				env = append(env, fmt.Sprintf("%s: !If [%s, !Ref %s, !Ref AWS::NoValue]", k.name, k.cond, k.param))
			}
		}
		if f.verifiesTokens() {
			env = append(env, "CHATTER_JWT_ISSUER: !Ref JwtIssuer", "CHATTER_JWT_AUDIENCE: !Ref JwtAudience",
				"CHATTER_JWKS_URL: !If [HasJwksUrl, !Ref JwksUrl, !Ref AWS::NoValue]")
		}
		if len(env) > 0 {
			b.WriteString("      Environment:\n        Variables:\n          " + strings.Join(env, "\n          ") + "\n")
		}
		if f.streams() {
			// A stream may outlive API Gateway's 30 s; the executor's own run
			// timeout (10 min) ends it first.
			b.WriteString("      Timeout: 660\n")
		}
	}
	if f.name == "openapi" {
		// The served document names the streaming Function URL as the second
		// host (httpapi.OpenAPIFor).
		b.WriteString("      Environment:\n        Variables:\n          CHATTER_STREAM_URL: " + streamURL("ChatStream") + "\n")
	}
	switch f.kind {
	case kindHealth:
		// No policy: it touches nothing.
	case kindStateless:
		b.WriteString("      Policies:\n        - !Ref RateLimitPolicy\n")
	case kindReady:
		b.WriteString("      Policies:\n        - DynamoDBReadPolicy:\n            TableName: !Ref Table\n")
	case kindRead:
		b.WriteString("      Policies:\n        - DynamoDBReadPolicy:\n            TableName: !Ref Table\n        - !Ref RateLimitPolicy\n")
	case kindWrite:
		b.WriteString("      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n")
	case kindDocuments:
		b.WriteString("      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n")
		b.WriteString("        - !Ref DocumentsObjectsPolicy\n")
		if f.goConst == "documents.PathSearch" {
			b.WriteString("        - !Ref EmbedModelsPolicy\n")
		}
	case kindExec, kindStream, kindOpenAI, kindOpenAIStream:
		b.WriteString("      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n")
		b.WriteString("        - !Ref PublishEventsPolicy\n        - !Ref InvokeModelsPolicy\n        - !Ref EmbedModelsPolicy\n")
		if !v.bedrock {
			b.WriteString("        - !If [HasProviderKeys, !Ref ProviderKeysPolicy, !Ref AWS::NoValue]\n")
		}
	}
	switch {
	case f.streams():
		b.WriteString("      FunctionUrlConfig:\n        AuthType: NONE # the function verifies tokens against the issuer's JWKS\n        InvokeMode: RESPONSE_STREAM\n")
		// Lambda answers preflights and adds the headers; the function leaves
		// CHATTER_ALLOWED_ORIGINS unset so they are not sent twice.
		b.WriteString(functionURLCORS())
	case f.inDefinitionBody():
		// The route is in the HttpApi's DefinitionBody (httpAPIRoutes); SAM would
		// have added this permission for an HttpApi event.
		fmt.Fprintf(b, "\n  %sFunctionApiPermission:\n    Type: AWS::Lambda::Permission\n%s    Properties:\n", id, cond)
		fmt.Fprintf(b, "      Action: lambda:InvokeFunction\n      FunctionName: !Ref %sFunction\n      Principal: apigateway.amazonaws.com\n", id)
		fmt.Fprintf(b, "      SourceArn: !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/%s%s\n",
			f.method(), wildcardPath.ReplaceAllString(f.apiPath(), "*"))
	default:
		fmt.Fprintf(b, "      Events:\n        Api:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n")
		fmt.Fprintf(b, "            Method: %s\n            Path: %s\n", f.method(), f.apiPath())
		if f.open() || f.verifiesTokens() {
			b.WriteString("            Auth:\n              Authorizer: NONE\n")
		}
	}
	fmt.Fprintf(b, "\n  %sLogs:\n    Type: AWS::Logs::LogGroup\n%s    Properties:\n", id, cond)
	fmt.Fprintf(b, "      LogGroupName: !Sub /aws/lambda/chatter-${Stage}-%s\n", name)
	b.WriteString("      RetentionInDays: !Ref LogRetentionDays\n")
}

// wildcardPath is a path parameter; a permission's source ARN has * for it.
var wildcardPath = regexp.MustCompile(`\{[^}]*\}`)

// inDefinitionBody: the function's HTTP API route is written into the HttpApi's
// DefinitionBody rather than as an HttpApi event. SAM refuses two functions
// with events on one route, conditions or not, and a function that runs
// workflows has two builds, one of which the Providers parameter deploys: the
// route's integration is an !If over the two.
func (f function) inDefinitionBody() bool { return len(f.variants()) > 1 && !f.streams() }

// httpAPIRoutes is the HttpApi's DefinitionBody: the routes of inDefinitionBody
// functions, in the shape SAM gives an HttpApi event's route (SAM adds the other
// routes, the authorizer and CORS to it). The info is SAM's default.
func httpAPIRoutes() string {
	var b strings.Builder
	b.WriteString("      DefinitionBody:\n        openapi: \"3.0.1\"\n        info:\n          title: !Ref AWS::StackName\n          version: \"1.0\"\n        paths:\n")
	integration := func(id string) string {
		return "!Sub arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${" + id + "Function.Arn}/invocations"
	}
	var paths []string
	byPath := map[string][]function{}
	for _, f := range functions {
		if !f.inDefinitionBody() {
			continue
		}
		if _, ok := byPath[f.apiPath()]; !ok {
			paths = append(paths, f.apiPath())
		}
		byPath[f.apiPath()] = append(byPath[f.apiPath()], f)
	}
	for _, p := range paths {
		fmt.Fprintf(&b, "          %q:\n", p)
		for _, f := range byPath[p] {
			fmt.Fprintf(&b, "            %s:\n", strings.ToLower(f.method()))
			b.WriteString("              x-amazon-apigateway-integration:\n                type: aws_proxy\n                httpMethod: POST\n                payloadFormatVersion: \"2.0\"\n")
			fmt.Fprintf(&b, "                uri: !If\n                  - %s\n                  - %s\n                  - %s\n",
				bedrockOnly.condition, integration(f.logicalID()+bedrockOnly.suffix), integration(f.logicalID()+allProviders.suffix))
			// What SAM writes for the JWT authorizer and for Authorizer: NONE.
			auth := "JwtAuthorizer"
			if f.open() || f.verifiesTokens() {
				auth = "NONE"
			}
			fmt.Fprintf(&b, "              security:\n                - %s: []\n", auth)
			if ps := wildcardPath.FindAllString(p, -1); len(ps) > 0 {
				b.WriteString("              parameters:\n")
				for _, w := range ps {
					fmt.Fprintf(&b, "                - {name: %s, in: path, required: true}\n", strings.Trim(w, "{}"))
				}
			}
			b.WriteString("              responses: {}\n")
		}
	}
	return b.String()
}

// streamURL is the URL of the deployed build of a streaming function (logical id
// prefix), whichever the Providers parameter chose.
func streamURL(id string) string {
	return fmt.Sprintf("!If [%s, !GetAtt %s%sFunctionUrl.FunctionUrl, !GetAtt %sFunctionUrl.FunctionUrl]",
		bedrockOnly.condition, id, bedrockOnly.suffix, id)
}

// Sample event shapes, in the field order AWS documents.
type httpDesc struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

type jwtDesc struct {
	Claims map[string]string `json:"claims"`
	Scopes []string          `json:"scopes"`
}

type apiContext struct {
	AccountID  string `json:"accountId"`
	APIID      string `json:"apiId"`
	Authorizer *struct {
		JWT jwtDesc `json:"jwt"`
	} `json:"authorizer,omitempty"`
	DomainName   string   `json:"domainName"`
	DomainPrefix string   `json:"domainPrefix"`
	HTTP         httpDesc `json:"http"`
	RequestID    string   `json:"requestId"`
	RouteKey     string   `json:"routeKey,omitempty"`
	Stage        string   `json:"stage,omitempty"`
	Time         string   `json:"time"`
	TimeEpoch    int64    `json:"timeEpoch"`
}

type httpEvent struct {
	Version         string            `json:"version"`
	RouteKey        string            `json:"routeKey"`
	RawPath         string            `json:"rawPath"`
	RawQueryString  string            `json:"rawQueryString"`
	Headers         map[string]string `json:"headers"`
	RequestContext  apiContext        `json:"requestContext"`
	PathParameters  map[string]string `json:"pathParameters,omitempty"`
	Body            string            `json:"body,omitempty"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// sampleEvent is an API Gateway HTTP API (payload 2.0) event as the JWT authorizer
// passes it on, or for chat-stream a Function URL event whose bearer token the
// function must verify itself (the RIE test swaps in a token it signed).
func sampleEvent(f function) ([]byte, error) {
	path := f.samplePath()
	headers := map[string]string{"accept": "application/json", "host": "abc123def4.execute-api.us-east-1.amazonaws.com",
		"user-agent": "curl/8.5.0", "x-forwarded-for": "203.0.113.10", "x-forwarded-proto": "https"}
	if !f.open() {
		headers["authorization"] = "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6InNhbXBsZSJ9.sample.signature"
	}
	if f.body != "" {
		headers["content-type"] = "application/json"
	}
	ctx := apiContext{AccountID: "123456789012", APIID: "abc123def4", DomainName: headers["host"],
		DomainPrefix: "abc123def4", HTTP: httpDesc{Method: f.method(), Path: path, Protocol: "HTTP/1.1",
			SourceIP: "203.0.113.10", UserAgent: "curl/8.5.0"},
		RequestID: "Vq3mXhW7IAMEVxQ=", RouteKey: f.routeKey(), Stage: "$default",
		Time: "25/Nov/2026:12:00:00 +0000", TimeEpoch: 1795608000000}
	ev := httpEvent{Version: "2.0", RouteKey: f.routeKey(), RawPath: path, Headers: headers, Body: f.body}
	if f.streams() {
		headers["accept"] = "text/event-stream"
		headers["host"] = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
		ctx.APIID, ctx.DomainName, ctx.DomainPrefix = "abcdefghijklmnopqrstuvwxyz012345", headers["host"], "abcdefghijklmnopqrstuvwxyz012345"
		ctx.RouteKey, ctx.Stage = "$default", "$default"
		ev.RouteKey = "$default"
	} else if !f.open() && !f.verifiesTokens() {
		ctx.Authorizer = &struct {
			JWT jwtDesc `json:"jwt"`
		}{JWT: jwtDesc{Claims: map[string]string{"sub": sampleUser, "iss": "https://issuer.example.com/",
			"aud": "chatter", "iat": "1795607700", "exp": "1795611300"}, Scopes: nil}}
	}
	ev.RequestContext = ctx
	if ps := f.pathParams(); len(ps) > 0 && !f.streams() {
		ev.PathParameters = ps
	}
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
