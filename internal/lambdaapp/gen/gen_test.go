package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGenerated_FilesAreUpToDate(t *testing.T) {
	r := root(t)
	files, err := render(r)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(r, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (err %v): run `make generate`", rel, err)
		}
	}
}

func TestTable_HasOneFunctionPerRoute(t *testing.T) {
	want := []string{"GET /health", "GET /ready", openaiapi.PathCompletions, openaiapi.PathModels,
		openaiapi.PathCompletions} // again: v1-stream, the surface on its Function URL
	for _, r := range chat.Routes {
		want = append(want, r.Pattern)
	}
	for _, r := range resources.Routes(resources.Deps{}) {
		want = append(want, r.Pattern)
	}
	for _, r := range documents.Routes(documents.Deps{}) {
		want = append(want, r.Pattern)
	}
	var got []string
	names := map[string]bool{}
	for _, f := range functions {
		got = append(got, f.pattern)
		if names[f.name] {
			t.Errorf("function name %s twice", f.name)
		}
		names[f.name] = true
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("table routes\n%v\nwant every route once\n%v", got, want)
	}
}

// Every directory under functions/ is a function of the table or a hand-written
// subscriber, with a template entry (CodeUri) and an events/ sample that is JSON.
func TestFunctions_EachHasTemplateEntryAndSampleEvent(t *testing.T) {
	r := root(t)
	tpl, err := os.ReadFile(filepath.Join(r, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	known := slices.Clone(subscribers)
	for _, f := range functions {
		known = append(known, f.name)
	}
	entries, err := os.ReadDir(filepath.Join(r, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	slices.Sort(dirs)
	slices.Sort(known)
	if !slices.Equal(dirs, known) {
		t.Errorf("functions/ holds %v, want %v (a stale generated function?)", dirs, known)
	}
	for _, name := range known {
		if !strings.Contains(string(tpl), "FunctionName: !Sub chatter-${Stage}-"+name+"\n") {
			t.Errorf("%s: no function in template.yaml", name)
		}
		b, err := os.ReadFile(filepath.Join(r, "events", name+".json"))
		if err != nil || !json.Valid(b) {
			t.Errorf("%s: events sample missing or not JSON: %v", name, err)
		}
	}
}

// The cold-start rule: CRUD and read functions link neither the executor nor an
// LLM SDK (nor the EventBridge client, which only runs workflows need).
func TestCRUDFunctions_DoNotLinkTheExecutorOrLLMSDKs(t *testing.T) {
	r := root(t)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./functions/...")
	cmd.Dir = r
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		deps[strings.TrimPrefix(fields[0], "github.com/chatterhq/chatter/functions/")] = fields[1:]
	}
	forbidden := []string{"github.com/chatterhq/chatter/internal/executor", "github.com/chatterhq/chatter/internal/llm/providers",
		"github.com/openai/openai-go", "github.com/anthropics/anthropic-sdk-go",
		"github.com/aws/aws-sdk-go-v2/service/bedrockruntime", "github.com/aws/aws-sdk-go-v2/service/eventbridge",
		"github.com/getkin/kin-openapi"}
	checked := 0
	for _, f := range functions {
		if f.kind != kindRead && f.kind != kindWrite && f.kind != kindStateless && !f.open() {
			continue
		}
		d, ok := deps[f.name]
		if !ok {
			t.Fatalf("go list did not list functions/%s", f.name)
		}
		checked++
		for _, dep := range d {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s", f.name, dep)
				}
			}
		}
	}
	// The sweeper ends runs and publishes events: the executor's Sweeper, no provider.
	for _, dep := range deps["sweeper"] {
		for _, bad := range forbidden[1:5] {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("sweeper depends on %s", dep)
			}
		}
	}
	// The execution functions must link the executor: the check above means something.
	if !slices.Contains(deps["chat"], "github.com/chatterhq/chatter/internal/executor") {
		t.Errorf("chat does not depend on the executor; is go list reading the right tree?")
	}
	if checked < 20 {
		t.Errorf("checked %d CRUD functions", checked)
	}
	// Only the functions that verify tokens themselves (runner/selfauth: the Function
	// URLs and the OpenAI-compatible routes) link the JWT library; every other reads
	// the claims API Gateway's authorizer verified.
	for _, f := range functions {
		jwt := slices.ContainsFunc(deps[f.name], func(d string) bool { return strings.HasPrefix(d, "github.com/lestrrat-go/jwx") })
		if self := f.kind == kindStream || f.kind == kindOpenAI || f.kind == kindOpenAIStream; jwt != self {
			t.Errorf("%s links the JWT library: %v", f.name, jwt)
		}
	}
	// expr-lang and the condition compiler are ~1.4 MiB: only the functions that
	// validate (resources.Route.Validates, given cond.Compiler) or run workflows link
	// them; a read or write that neither validates nor runs does not.
	validating := 0
	for _, f := range functions {
		expr := slices.ContainsFunc(deps[f.name], func(d string) bool {
			return d == "github.com/expr-lang/expr" || strings.HasPrefix(d, "github.com/expr-lang/expr/")
		})
		runs := f.kind == kindExec || f.kind == kindStream || f.kind == kindOpenAI || f.kind == kindOpenAIStream
		if f.validates() {
			validating++
			if !slices.Contains(deps[f.name], "github.com/chatterhq/chatter/internal/workflow/cond") {
				t.Errorf("%s validates but does not link the condition compiler", f.name)
			}
		}
		if want := f.validates() || runs; expr != want {
			t.Errorf("%s links expr-lang: %v, want %v", f.name, expr, want)
		}
	}
	if validating < 8 {
		t.Errorf("%d functions validate; Route.Validates marks too few", validating)
	}
	// Creating the table from template.yaml (dynamotable, a YAML parser) is the dev
	// stack's and the tests': no function links it.
	for name, d := range deps {
		for _, dep := range d {
			if dep == "gopkg.in/yaml.v3" || dep == "github.com/chatterhq/chatter/internal/store/dynamo/dynamotable" {
				t.Errorf("%s links %s", name, dep)
			}
		}
	}
	// A Lambda reads its credentials and region from the environment
	// (lambdaapp.AWSFromEnv): no function links the SDK's config chain (shared
	// files, SSO, STS, sign-in, IMDS), which is the CLI's.
	configChain := []string{"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sso",
		"github.com/aws/aws-sdk-go-v2/service/ssooidc", "github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/signin", "github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
		"github.com/aws/aws-sdk-go-v2/internal/ini"}
	for name, d := range deps {
		for _, dep := range d {
			for _, bad := range configChain {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s links %s", name, dep)
				}
			}
		}
	}
}

// mapValue returns the value of key in a YAML mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = mapValue(n, k)
	}
	return n
}

func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, c.Value)
	}
	return out
}

// The browser policy has one owner, httpapi: the HTTP API's CorsConfiguration and
// the Function URL's Cors in template.yaml carry its lists, and no function sets
// CHATTER_ALLOWED_ORIGINS, so the middleware never adds a second set of headers to
// what API Gateway or Lambda already sends.
func TestTemplate_CORSIsTheMiddlewaresPolicy(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(chatterTemplate(t), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	if p := path(root, "Parameters", "AllowedOrigins", "Type"); p == nil || p.Value != "CommaDelimitedList" {
		t.Errorf("parameter AllowedOrigins: %v", p)
	}
	res := mapValue(root, "Resources")
	api := path(res, "HttpApi", "Properties", "CorsConfiguration")
	if api == nil || api.Tag != "!If" || len(api.Content) != 3 || api.Content[0].Value != "AnyOrigin" {
		t.Fatalf("HttpApi CorsConfiguration is not !If [AnyOrigin, ..., ...]: %+v", api)
	}
	url := path(res, "ChatStreamFunction", "Properties", "FunctionUrlConfig", "Cors")
	if url == nil {
		t.Fatal("ChatStreamFunction has no FunctionUrlConfig.Cors")
	}
	methods := httpcore.CORSMethods()
	if len(methods) > 6 {
		t.Errorf("a Function URL takes at most 6 methods, got %v", methods)
	}
	maxAge := strconv.Itoa(int(httpcore.CORSMaxAge / time.Second))
	for i, c := range []*yaml.Node{api.Content[1], api.Content[2], url} {
		if o := mapValue(c, "AllowOrigins"); o == nil || o.Tag != "!Ref" || o.Value != "AllowedOrigins" {
			t.Errorf("CORS %d: AllowOrigins %+v, want !Ref AllowedOrigins", i, o)
		}
		for key, want := range map[string][]string{"AllowMethods": methods, "AllowHeaders": httpcore.CORSAllowHeaders(),
			"ExposeHeaders": httpcore.CORSExposeHeaders()} {
			if got := scalars(mapValue(c, key)); !slices.Equal(got, want) {
				t.Errorf("CORS %d: %s %v, want httpapi's %v", i, key, got, want)
			}
		}
		if got := mapValue(c, "MaxAge"); got == nil || got.Value != maxAge {
			t.Errorf("CORS %d: MaxAge %v, want %s", i, got, maxAge)
		}
	}
	if a, b := mapValue(api.Content[1], "AllowCredentials"), mapValue(api.Content[2], "AllowCredentials"); a == nil || b == nil ||
		a.Value != "false" || b.Value != "true" {
		t.Errorf("HttpApi AllowCredentials: with * %v, else %v; want false and true", a, b)
	}
	if !strings.Contains(string(chatterTemplate(t)), "AnyOrigin: !Equals [!Join [\",\", !Ref AllowedOrigins], \"*\"]") {
		t.Errorf("template.yaml lacks the AnyOrigin condition")
	}
	if strings.Contains(string(chatterTemplate(t)), "CHATTER_ALLOWED_ORIGINS") {
		t.Errorf("template.yaml sets CHATTER_ALLOWED_ORIGINS: the function would repeat the CORS headers the gateway sends")
	}
}

func chatterTemplate(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A resource function links its own route and no other: its main names one
// resources.Route* variable (lambdaapp.StartResource), and only resources.Routes
// lists them all. Were every handler linked, each function would carry all of
// them (and the embedded OpenAPI document), 0.6 MiB more where expr-lang is linked.
func TestCRUDFunctions_LinkOnlyTheirOwnRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two functions")
	}
	r := root(t)
	const pkg = "github.com/chatterhq/chatter/internal/httpapi/resources."
	routeVar := regexp.MustCompile(`\s` + regexp.QuoteMeta(pkg) + `(Route[A-Z]\w*)$`)
	for _, name := range []string{"definitions-create", "definition-get"} {
		i := slices.IndexFunc(functions, func(f function) bool { return f.name == name })
		own := strings.TrimPrefix(functions[i].goConst, "resources.")
		bin := filepath.Join(t.TempDir(), name)
		build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", bin, "./functions/"+name)
		build.Dir = r
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
		out, err := exec.Command("go", "tool", "nm", bin).Output()
		if err != nil {
			t.Fatalf("go tool nm %s: %v", name, err)
		}
		var linked []string
		for _, line := range strings.Split(string(out), "\n") {
			if m := routeVar.FindStringSubmatch(line); m != nil {
				linked = append(linked, m[1])
			}
			if strings.HasSuffix(line, " "+pkg+"OpenAPI") {
				t.Errorf("%s links the OpenAPI handler", name)
			}
		}
		if !slices.Equal(linked, []string{own}) {
			t.Errorf("%s links the routes %v, want only %s", name, linked, own)
		}
	}
}

// No function may reach a call of reflect's Method or MethodByName with a name known
// only at run time: the linker would then keep every exported method of every
// reachable type, which in the chat function (the AWS, OpenAI and Anthropic SDKs) is
// half its size. expr-lang makes such calls; third_party/expr is it without them
// (PATCH.md there). The chat function links everything a workflow can reach.
func TestFunctions_KeepMethodsDeadCodeEliminated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the chat function")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "chat")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-dumpdep", "-o", bin, "./functions/chat")
	build.Dir = root(t)
	var deps bytes.Buffer
	build.Stdout, build.Stderr = &deps, &deps
	if err := build.Run(); err != nil {
		t.Fatalf("go build ./functions/chat: %v\n%.2000s", err, deps.String())
	}
	callers := map[string]bool{}
	for line := range strings.Lines(deps.String()) {
		// "caller <ReflectMethod> -> callee": the linker marked caller as reaching one.
		if from, _, ok := strings.Cut(line, " <ReflectMethod> -> "); ok {
			callers[from] = true
		}
	}
	if len(callers) > 0 {
		t.Errorf("the chat function reaches reflect's Method/MethodByName with run-time names, from %v", slices.Sorted(maps.Keys(callers)))
	}
}
