package rietest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/documents/blob"
	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/rie"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The functions these tests build and run.
var built = []string{"chat", "chat-stream", "definitions-create", "definition-get", "on-event-record", "ready", "v1-stream",
	"documents-ingest", "document-get"}

const (
	sampleUser = "user-sample"                // sub in the events/ samples
	sampleDef  = "01JSAMPLEDEFINITION0000000" // {id} of the definition samples
	sampleExec = "01JSAMPLEEXECUTION00000000" // execution of the subscriber sample
	sampleDoc  = "01JSAMPLEDOCUMENT000000000" // {document_id} of the documents samples
	issuer     = "https://issuer.test/"
	audience   = "chatter"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
}

// rieBinary is CHATTER_RIE or bin/aws-lambda-rie; a missing emulator fails the test
// with how to get it.
func rieBinary(t *testing.T, root string) string {
	t.Helper()
	p := os.Getenv("CHATTER_RIE")
	if p == "" {
		p = filepath.Join(root, "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the Lambda RIE is not at %s: run `make rie` (or set CHATTER_RIE): %v", p, err)
	}
	return p
}

// buildBootstraps builds each function for the host, in one go build so
// compilation is shared. It keeps the deployment's tags and link flags but not
// -trimpath and CGO_ENABLED=0: those change every package's build id, so on a cold
// cache the test would compile the whole dependency tree again (minutes) instead of
// reusing what `go vet` already compiled. The code paths are the same.
func buildBootstraps(t *testing.T, root string) string {
	t.Helper()
	out := t.TempDir()
	args := []string{"build", "-ldflags", "-s -w", "-tags", "lambda.norpc", "-o", out + "/"}
	for _, f := range built {
		args = append(args, "./functions/"+f)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// function is one bootstrap running under an emulator of its own.
type function struct {
	name string
	emu  *rie.Emulator
}

// startRIE runs the emulator on bootstrap with env (and nothing else from this
// process's environment) and stops it when the test ends, printing its log if the
// test failed.
func startRIE(t *testing.T, bin, name, bootstrap string, env []string) *function {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := rie.Start(ctx, rie.Options{Bin: bin, Bootstrap: bootstrap, Env: env})
	if err != nil {
		t.Fatalf("starting the RIE for %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s RIE log:\n%s", name, e.Log())
		}
	})
	return &function{name: name, emu: e}
}

// invoke sends one event and returns the function's raw response.
func (f *function) invoke(t *testing.T, event []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := f.emu.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoking %s: %v", f.name, err)
	}
	return b
}

// waitFor waits a little for the function's log to hold s: the emulator writes its
// log lines asynchronously to the response.
func (f *function) waitFor(s string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return f.emu.WaitFor(ctx, s)
}

// sample reads events/<name>.json and applies edits to its decoded form.
func sample(t *testing.T, root, name string, edit func(map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, _ := json.Marshal(m)
	return out
}

// apiResponse is what the httpadapter V2 handler returns.
type apiResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func decodeAPI(t *testing.T, name string, raw []byte) apiResponse {
	t.Helper()
	var r apiResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: not an API Gateway response: %v\n%s", name, err, raw)
	}
	return r
}

// stack is moto with a fresh table and bus, and the environment every function
// gets.
type stack struct {
	root, rieBin, bootDir string
	env                   []string
	store                 *dynamo.Store
}

func newStack(t *testing.T) *stack {
	t.Helper()
	root := repoRoot(t)
	s := &stack{root: root, rieBin: rieBinary(t, root)}
	s.bootDir = buildBootstraps(t, root)
	ctx := context.Background()
	awsCfg := testenv.AWSConfig(t)
	name := fmt.Sprintf("chatter-rie-%d", time.Now().UnixNano())
	db := dynamodb.NewFromConfig(awsCfg)
	if err := dynamotable.CreateTable(ctx, db, chatter.TemplateYAML, name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	if _, err := eventbridge.NewFromConfig(awsCfg).CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("CreateEventBus: %v", err)
	}
	key := strings.Repeat("r", lambdaapp.MinCursorKeyBytes)
	s.store = dynamo.New(db, name, dynamo.Options{CursorKey: []byte(key)})
	s.env = []string{"AWS_ENDPOINT_URL=" + testenv.Endpoint(t), "AWS_REGION=" + testenv.Region,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "CHATTER_STAGE=local",
		"CHATTER_TABLE=" + name, "CHATTER_EVENT_BUS=" + name, "CHATTER_CURSOR_KEY=" + key,
		// moto has no Bedrock: locally the offline devllm answers.
		"CHATTER_BEDROCK=off"}
	return s
}

func (s *stack) start(t *testing.T, name string, extra ...string) *function {
	t.Helper()
	return startRIE(t, s.rieBin, name, filepath.Join(s.bootDir, name), append(append([]string{}, s.env...), extra...))
}

func TestRIE_FunctionsAnswerTheirSampleEvents(t *testing.T) {
	s := newStack(t)
	var measured []*function

	t.Run("chat answers a ChatResponse from devllm", func(t *testing.T) {
		r := s.start(t, "chat")
		measured = append(measured, r)
		res := decodeAPI(t, "chat", r.invoke(t, sample(t, s.root, "chat", nil)))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("chat: %d %s", res.StatusCode, res.Body)
		}
		var cr struct {
			Response       string `json:"response"`
			ConversationID string `json:"conversation_id"`
			ExecutionID    string `json:"execution_id"`
			Status         string `json:"status"`
			Provider       string `json:"provider"`
		}
		_ = json.Unmarshal([]byte(res.Body), &cr)
		if cr.Response == "" || cr.Status != "completed" || cr.Provider != "devllm" || cr.ExecutionID == "" {
			t.Fatalf("chat body: %s", res.Body)
		}
		// The user message and the reply were stored under the token's subject.
		page, err := s.store.ListMessages(context.Background(), sampleUser, cr.ConversationID, store.PageRequest{})
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("stored messages %v: %v", page.Items, err)
		}
		// A second invoke is warm: same instance, same answer shape.
		res = decodeAPI(t, "chat", r.invoke(t, sample(t, s.root, "chat", nil)))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("warm chat: %d %s", res.StatusCode, res.Body)
		}
	})

	t.Run("ready answers without a token once the table answers", func(t *testing.T) {
		r := s.start(t, "ready")
		res := decodeAPI(t, "ready", r.invoke(t, sample(t, s.root, "ready", nil)))
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `"ready"`) {
			t.Fatalf("ready: %d %s", res.StatusCode, res.Body)
		}
	})

	t.Run("definitions-create then definition-get", func(t *testing.T) {
		create, get := s.start(t, "definitions-create"), s.start(t, "definition-get")
		measured = append(measured, create, get)
		res := decodeAPI(t, "definitions-create", create.invoke(t, sample(t, s.root, "definitions-create", nil)))
		var d struct{ ID, Name string }
		_ = json.Unmarshal([]byte(res.Body), &d)
		if res.StatusCode != http.StatusOK || d.ID == "" { // 200: the predecessor's status of a create
			t.Fatalf("create: %d %s", res.StatusCode, res.Body)
		}
		withID := func(id string) func(map[string]any) {
			return func(m map[string]any) {
				m["rawPath"] = strings.Replace(m["rawPath"].(string), sampleDef, id, 1)
				m["pathParameters"] = map[string]any{"id": id}
				rc := m["requestContext"].(map[string]any)
				h := rc["http"].(map[string]any)
				h["path"] = m["rawPath"]
			}
		}
		res = decodeAPI(t, "definition-get", get.invoke(t, sample(t, s.root, "definition-get", withID(d.ID))))
		var got struct{ ID, Name string }
		_ = json.Unmarshal([]byte(res.Body), &got)
		if res.StatusCode != http.StatusOK || got.ID != d.ID || got.Name != "chain" {
			t.Fatalf("get: %d %s", res.StatusCode, res.Body)
		}
		// The sample's own id names no stored definition.
		res = decodeAPI(t, "definition-get", get.invoke(t, sample(t, s.root, "definition-get", nil)))
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("get of the sample id: %d %s", res.StatusCode, res.Body)
		}
	})

	t.Run("on-event-record stores the execution's final state", func(t *testing.T) {
		ctx := context.Background()
		if err := s.store.CreateExecution(ctx, &store.Execution{ID: sampleExec, UserID: sampleUser,
			Status: store.ExecRunning, Mode: "standard", StartedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		r := s.start(t, "on-event-record")
		measured = append(measured, r)
		// The sample is one SQS message from the subscriber's queue.
		var resp awsevents.SQSEventResponse
		if out := r.invoke(t, sample(t, s.root, "on-event-record", nil)); json.Unmarshal(out, &resp) != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("subscriber answered %s", out)
		}
		x, err := s.store.GetExecution(ctx, sampleUser, sampleExec)
		if err != nil || x.Status != store.ExecCompleted || x.Usage.OutputTokens != 96 {
			t.Fatalf("execution %+v: %v", x, err)
		}
		page, err := s.store.ListEvents(ctx, sampleUser, sampleExec, store.PageRequest{})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != "01JSAMPLEEVENT000000000009" {
			t.Fatalf("event log %+v: %v", page.Items, err)
		}
		// The logging subscriber ran in the same function.
		if !r.waitFor(`"msg":"workflow event"`) {
			t.Errorf("no workflow event log line")
		}
	})

	t.Run("documents-ingest processes the stored object, document-get shows it", func(t *testing.T) {
		ctx := context.Background()
		bucket := fmt.Sprintf("chatter-rie-docs-%d", time.Now().UnixNano())
		client := s3.NewFromConfig(testenv.AWSConfig(t), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
			t.Fatal(err)
		}
		key := blob.Key(sampleUser, sampleDoc)
		if err := s.store.CreateDocument(ctx, &store.Document{ID: sampleDoc, UserID: sampleUser, Filename: "notes.md",
			ContentType: "text/markdown", BlobKey: key, ChunkSize: 1000, ChunkOverlap: 200, EmbeddingModel: embed.HashedModel}); err != nil {
			t.Fatal(err)
		}
		if _, err := blob.New(client, bucket).Put(ctx, key, "text/markdown", []byte("# Notes\n\nThe ferry leaves at nine.")); err != nil {
			t.Fatal(err)
		}
		env := "CHATTER_DOCUMENTS_BUCKET=" + bucket
		ingest, get := s.start(t, "documents-ingest", env), s.start(t, "document-get", env)
		measured = append(measured, ingest, get)
		onBucket := func(m map[string]any) {
			m["detail"].(map[string]any)["bucket"].(map[string]any)["name"] = bucket
		}
		for range 2 { // a redelivery changes nothing
			if out := strings.TrimSpace(string(ingest.invoke(t, sample(t, s.root, "documents-ingest", onBucket)))); out != "null" && out != "" {
				t.Fatalf("ingest answered %s", out)
			}
		}
		res := decodeAPI(t, "document-get", get.invoke(t, sample(t, s.root, "document-get", nil)))
		var d struct {
			Status     string `json:"status"`
			ChunkCount int    `json:"chunk_count"`
		}
		_ = json.Unmarshal([]byte(res.Body), &d)
		if res.StatusCode != http.StatusOK || d.Status != "processed" || d.ChunkCount != 1 {
			t.Fatalf("document-get: %d %s", res.StatusCode, res.Body)
		}
	})

	t.Run("chat-stream streams SSE through the Function URL prelude", func(t *testing.T) {
		keys, jwksURL := jwks(t)
		r := s.start(t, "chat-stream", "CHATTER_JWT_ISSUER="+issuer, "CHATTER_JWT_AUDIENCE="+audience, "CHATTER_JWKS_URL="+jwksURL)
		tok, err := jwtauth.MintToken(keys, issuer, audience, "streamer", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		measured = append(measured, r)
		prelude, body := splitStream(t, r.invoke(t, sample(t, s.root, "chat-stream", func(m map[string]any) {
			m["headers"].(map[string]any)["authorization"] = "Bearer " + tok
		})))
		if prelude.StatusCode != http.StatusOK || prelude.Headers["Content-Type"] != "text/event-stream" {
			t.Fatalf("prelude %+v\n%s", prelude, body)
		}
		types, last := frames(t, body)
		if len(types) < 3 || types[0] != "start" || !contains(types, "token") || !contains(types, "complete") {
			t.Fatalf("frame types %v\n%s", types, body)
		}
		if last != "data: [DONE]" {
			t.Fatalf("last line %q", last)
		}
		// Every execute route streams on the Function URL, not only the chat route.
		prelude, body = splitStream(t, r.invoke(t, sample(t, s.root, "chat-stream", func(m map[string]any) {
			m["headers"].(map[string]any)["authorization"] = "Bearer " + tok
			m["rawPath"], m["rawQueryString"] = "/api/v1/workflows/templates/general_chat/execute", "stream=true"
			m["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = m["rawPath"]
			m["body"] = `{"message":"stream a template"}`
		})))
		if types, last := frames(t, body); prelude.StatusCode != http.StatusOK || !contains(types, "token") || last != "data: [DONE]" {
			t.Fatalf("template execute ?stream=true on the Function URL: %+v %v\n%s", prelude, types, body)
		}
		// The sample's placeholder token is refused by the function itself.
		prelude, body = splitStream(t, r.invoke(t, sample(t, s.root, "chat-stream", nil)))
		if prelude.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthorized"`) {
			t.Fatalf("placeholder token: %+v %s", prelude, body)
		}
	})

	t.Run("v1-stream streams OpenAI chunks through the Function URL prelude", func(t *testing.T) {
		keys, jwksURL := jwks(t)
		r := s.start(t, "v1-stream", "CHATTER_JWT_ISSUER="+issuer, "CHATTER_JWT_AUDIENCE="+audience, "CHATTER_JWKS_URL="+jwksURL)
		tok, err := jwtauth.MintToken(keys, issuer, audience, "oai-streamer", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		measured = append(measured, r)
		prelude, body := splitStream(t, r.invoke(t, sample(t, s.root, "v1-stream", func(m map[string]any) {
			m["headers"].(map[string]any)["authorization"] = "Bearer " + tok
		})))
		if prelude.StatusCode != http.StatusOK || prelude.Headers["Content-Type"] != "text/event-stream" ||
			prelude.Headers[openaiapi.HeaderExecutionID] == "" {
			t.Fatalf("prelude %+v\n%s", prelude, body)
		}
		var objects []string
		var usage bool
		for _, d := range apitest.SSEData(body) {
			var c struct {
				Object string          `json:"object"`
				Usage  json.RawMessage `json:"usage"`
			}
			if err := json.Unmarshal([]byte(d), &c); err != nil {
				t.Fatalf("frame %q: %v", d, err)
			}
			objects = append(objects, c.Object)
			usage = usage || len(c.Usage) > 0
		}
		if len(objects) < 3 || objects[0] != "chat.completion.chunk" || !usage || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
			t.Fatalf("chunks %v (usage %v)\n%s", objects, usage, body)
		}
		// The sample's placeholder token is refused by the function, in OpenAI's shape.
		prelude, body = splitStream(t, r.invoke(t, sample(t, s.root, "v1-stream", nil)))
		if prelude.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"invalid_api_key"`) {
			t.Fatalf("placeholder token: %+v %s", prelude, body)
		}
	})

	for _, r := range measured {
		report(t, r, s)
	}
}

// jwks serves a fresh key's public set on loopback and returns the private key.
func jwks(t *testing.T) (jwk.Key, string) {
	t.Helper()
	key, err := jwtauth.NewSigningKey("rie")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	body, _ := json.Marshal(set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return key, srv.URL
}

type prelude struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
}

// splitStream parses a streamed Function URL response as the runtime sends it
// (content type application/vnd.awslambda.http-integration-response): a JSON
// prelude, eight NUL bytes, then the body.
func splitStream(t *testing.T, raw []byte) (prelude, []byte) {
	t.Helper()
	head, body, ok := bytes.Cut(raw, make([]byte, 8))
	if !ok {
		t.Fatalf("no 8-NUL delimiter in the streamed response:\n%q", raw)
	}
	var p prelude
	if err := json.Unmarshal(head, &p); err != nil {
		t.Fatalf("prelude %q: %v", head, err)
	}
	return p, body
}

// frames returns the data.type of each SSE frame, checking that each event: line
// matches it, and the body's last line.
func frames(t *testing.T, body []byte) ([]string, string) {
	t.Helper()
	var types []string
	var event, last string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			last = line
		}
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && line != "data: [DONE]":
			var d struct{ Type string }
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil || d.Type != event {
				t.Fatalf("frame %q after event %q: %v", line, event, err)
			}
			types = append(types, d.Type)
		}
	}
	return types, last
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

var reInit = regexp.MustCompile(`(?m)^init \S+ @[0-9.]+ ms, ([0-9.]+) ms clock`)

// report logs a function's cold start: the emulator's INIT REPORT (runtime start
// to the first /next), the package init time GODEBUG=inittrace=1 prints when the
// bootstrap runs alone (it stops at lambda.Start, outside Lambda), and the stripped
// binary's size. Measurements, not assertions.
func report(t *testing.T, r *function, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rapid := "n/a"
	if ms, err := r.emu.Init(ctx); err == nil {
		rapid = fmt.Sprintf("%.2f ms", ms)
	}
	bin := filepath.Join(s.bootDir, r.name)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "GODEBUG=inittrace=1"}, s.env...)
	if r.name == "chat-stream" || r.name == "v1-stream" {
		cmd.Env = append(cmd.Env, "CHATTER_JWT_ISSUER="+issuer, "CHATTER_JWT_AUDIENCE="+audience)
	}
	trace, _ := cmd.CombinedOutput() // exits non-zero: no Lambda runtime API here
	var initMS float64
	pkgs := reInit.FindAllStringSubmatch(string(trace), -1)
	for _, m := range pkgs {
		v, _ := strconv.ParseFloat(m[1], 64)
		initMS += v
	}
	size := "n/a"
	if fi, err := os.Stat(bin); err == nil {
		size = fmt.Sprintf("%.2f MiB", float64(fi.Size())/(1<<20))
	}
	t.Logf("cold start %-20s size %s  rapid INIT %s  package init %.2f ms (%d packages)", r.name, size, rapid, initMS, len(pkgs))
}
