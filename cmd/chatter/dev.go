package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	chatter "github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/subscriber"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/docsapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/runner"
	"github.com/chatterhq/chatter/internal/motoserver"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

// stackOptions configure startStack.
type stackOptions struct {
	// Listener is where the API is served; the caller claims the port first, so a
	// taken port stops everything before anything starts.
	Listener net.Listener
	// Dir is the dev folder: signing key, moto's log, event and metric logs.
	Dir string
	// Getenv reads the configuration; os.Getenv in `chatter dev`.
	Getenv func(string) string
	// Logger receives access logs and startup notes.
	Logger *slog.Logger
}

// stack is a running local chatter: moto (unless an endpoint was given), the
// provisioned table, bus, rules and queues, the API on the listener with the same
// handlers the Lambdas use, and the delivery loop feeding the subscribers.
type stack struct {
	URL      string
	Endpoint string
	Moto     *motoserver.Moto // nil when AWS_ENDPOINT_URL was given
	Identity *devstack.Identity
	App      *lambdaapp.App
	// Provider describes the LLM setup for the banner.
	Provider string

	srv     *http.Server
	served  chan error
	stopDel context.CancelFunc
	deliver sync.WaitGroup
	logs    []io.Closer
	lock    *devstack.FolderLock
	closeMu sync.Once
}

// devEnv is the dev server's view of the environment: the user's variables, with
// what the local stage needs filled in (browsers: any localhost origin unless
// CHATTER_ALLOWED_ORIGINS says otherwise). Bedrock is off unless the user has AWS
// credentials in the environment and did not point AWS at a local endpoint (moto
// and LocalStack serve no Bedrock); an explicit CHATTER_BEDROCK wins.
func devEnv(getenv func(string) string, endpoint string, userEndpoint bool, cursorKey []byte) func(string) string {
	set := map[string]string{"AWS_ENDPOINT_URL": endpoint}
	if getenv("CHATTER_STAGE") == "" {
		set["CHATTER_STAGE"] = lambdaapp.StageLocal
	}
	if getenv("CHATTER_CURSOR_KEY") == "" {
		set["CHATTER_CURSOR_KEY"] = fmt.Sprintf("%x", cursorKey)
	}
	if getenv("CHATTER_ALLOWED_ORIGINS") == "" {
		// A frontend's dev server on any local port may call the stack; nothing
		// stands in front of it to answer CORS.
		set["CHATTER_ALLOWED_ORIGINS"] = strings.Join(httpcore.LoopbackOrigins(), ",")
	}
	if getenv("CHATTER_BEDROCK") == "" {
		switch {
		case !hasAWSCredentials(getenv) || userEndpoint:
			set["CHATTER_BEDROCK"] = "off"
		case getenv("BEDROCK_ENDPOINT_URL") == "":
			// Every other client talks to moto; Bedrock must reach AWS itself.
			set["BEDROCK_ENDPOINT_URL"] = "https://bedrock-runtime." + region(getenv) + ".amazonaws.com"
		}
	}
	return func(k string) string {
		if v, ok := set[k]; ok {
			return v
		}
		return getenv(k)
	}
}

func hasAWSCredentials(getenv func(string) string) bool {
	return getenv("AWS_ACCESS_KEY_ID") != "" || getenv("AWS_PROFILE") != ""
}

func region(getenv func(string) string) string {
	return cmp.Or(lambdaapp.RegionFromEnv(getenv), lambdaapp.LocalRegion)
}

// startStack brings the local stack up. On error everything it started is
// stopped again.
func startStack(ctx context.Context, o stackOptions) (_ *stack, err error) {
	s := &stack{URL: "http://" + o.Listener.Addr().String(), served: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// One stack per dev folder: two would write the same log files.
	if s.lock, err = devstack.LockFolder(o.Dir); err != nil {
		return nil, err
	}
	if s.Identity, err = devstack.LoadIdentity(o.Dir); err != nil {
		return nil, err
	}
	userEndpoint := o.Getenv("AWS_ENDPOINT_URL") != ""
	s.Endpoint = o.Getenv("AWS_ENDPOINT_URL")
	if !userEndpoint {
		motoLog, err := s.openLog(o.Dir, "moto.log")
		if err != nil {
			return nil, err
		}
		if s.Moto, err = motoserver.Start(ctx, motoserver.Options{Output: motoLog}); err != nil {
			return nil, err
		}
		s.Endpoint = s.Moto.URL
	}
	getenv := devEnv(o.Getenv, s.Endpoint, userEndpoint, s.Identity.CursorKey)
	cfg, err := lambdaapp.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := loadAWS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !hasAWSCredentials(getenv) {
		// moto and LocalStack accept any credentials; a newcomer has none.
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	if motoserver.IsMoto(ctx, s.Endpoint) {
		awsCfg.HTTPClient = &http.Client{Transport: motoserver.SerializeDynamoDB(http.DefaultTransport)}
	}
	if err := dynamotable.CreateTable(ctx, dynamodb.NewFromConfig(awsCfg), chatter.TemplateYAML, cfg.Table); err != nil {
		return nil, fmt.Errorf("creating table %s on %s: %w", cfg.Table, s.Endpoint, err)
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if err := devstack.ProvisionDocuments(ctx, s3c, cfg.DocumentsBucket); err != nil {
		return nil, fmt.Errorf("creating the documents bucket on %s: %w", s.Endpoint, err)
	}
	queues, err := devstack.ProvisionEvents(ctx, awsCfg, cfg.EventBus, devstack.Refs{devstack.DocumentsBucketRef: cfg.DocumentsBucket})
	if err != nil {
		return nil, fmt.Errorf("provisioning the event bus on %s: %w", s.Endpoint, err)
	}

	if cfg.StreamURL == "" {
		cfg.StreamURL = s.URL // the dev stack streams on every route itself
	}
	s.App = lambdaapp.NewWith(cfg, awsCfg, o.Logger)
	auth, err := s.Identity.Authenticator()
	if err != nil {
		return nil, err
	}
	x, err := runner.NewExecutor(ctx, s.App, getenv)
	if err != nil {
		return nil, err
	}
	s.Provider = providerNote(getenv)
	docs, err := docsapp.New(s.App, getenv)
	if err != nil {
		return nil, err
	}
	rt := s.App.Router(auth)
	s.App.Validation = resources.NewValidation(tools.Builtins(), cond.Compiler)
	resources.Register(rt, s.App.ResourceDeps())
	chat.Register(rt, x)
	documents.Register(rt, docs.Deps(s.App))
	openaiapi.Register(rt, openaiapi.Deps{Executor: x, Catalog: s.App.Store})

	handlers, err := s.subscribers(o.Dir, cfg)
	if err != nil {
		return nil, err
	}
	// The ingest Lambda's handler, fed S3's Object Created from its rule's queue
	// one message at a time.
	handlers["documents-ingest"] = events.EachMessage(docs.Library.HandleEvent(cfg.DocumentsBucket), o.Logger)
	// Subscribers and the sweeper are background work: on moto's one-at-a-time
	// line their DynamoDB requests wait for the request path's.
	dctx, stop := context.WithCancel(motoserver.Background(context.WithoutCancel(ctx)))
	s.stopDel = stop
	sq := sqs.NewFromConfig(awsCfg)
	s.deliver.Go(func() {
		if err := devstack.DeliverAll(dctx, sq, queues, handlers); err != nil {
			o.Logger.Error("event delivery stopped", "err", err)
		}
	})

	// The sweeper Lambda's job, on a short period: runs a killed stack left running
	// end failed/timeout once past their deadline.
	pub, err := runner.NewPublisher(s.App, nil)
	if err != nil {
		return nil, err
	}
	sw := &executor.Sweeper{Store: s.App.Store, Emitter: pub, Logger: o.Logger}
	s.deliver.Go(func() {
		devstack.SweepEvery(dctx, devstack.SweepPeriod, func(ctx context.Context) error {
			_, err := sw.Sweep(ctx)
			return err
		}, o.Logger)
	})

	s.srv = &http.Server{Handler: rt, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)}
	go func() { s.served <- s.srv.Serve(o.Listener) }()
	return s, nil
}

// subscribers are the handlers of the subscriber Lambdas (functions/on-event-record
// and functions/on-event-metrics), wired as their mains wire them and fed by the
// local queues. The per-event log lines go to events.log in the dev folder and the
// EMF lines to metrics.log, where the terminal stays readable.
func (s *stack) subscribers(dir string, cfg lambdaapp.Config) (map[string]devstack.Handler, error) {
	evLog, err := s.openLog(dir, "events.log")
	if err != nil {
		return nil, err
	}
	metricsLog, err := s.openLog(dir, "metrics.log")
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(evLog, nil))
	return map[string]devstack.Handler{
		"on-event-record":  subscriber.Record(s.App.Store, logger),
		"on-event-metrics": subscriber.Metrics(s.App.Store, cfg.MetricsNamespace, metricsLog, logger),
	}, nil
}

// openLog opens a dev-folder log for appending: a restart keeps what the last run
// wrote, and every write lands at the end even if someone else has the file open.
func (s *stack) openLog(dir, name string) (io.Writer, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	s.logs = append(s.logs, f)
	return f, nil
}

// Close stops the server (in-flight requests get a few seconds), the delivery
// loop and moto, by its PID. It is safe to call twice.
func (s *stack) Close() {
	s.closeMu.Do(func() {
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.srv.Shutdown(ctx); err != nil {
				_ = s.srv.Close()
			}
			cancel()
		}
		if s.stopDel != nil {
			s.stopDel()
			s.deliver.Wait()
		}
		if s.Moto != nil {
			_ = s.Moto.Stop()
		}
		for _, c := range s.logs {
			_ = c.Close()
		}
		_ = s.lock.Unlock()
	})
}

// providerNote says which LLM answers, for the banner.
func providerNote(getenv func(string) string) string {
	var on []string
	if getenv("CHATTER_BEDROCK") != "off" && hasAWSCredentials(getenv) {
		on = append(on, "bedrock")
	}
	if getenv("OPENAI_API_KEY") != "" || getenv("OPENAI_API_KEY_SECRET_ID") != "" ||
		getenv("OPENAI_API_KEY_PARAMETER") != "" || getenv("OPENAI_BASE_URL") != "" {
		on = append(on, "openai")
	}
	if getenv("ANTHROPIC_API_KEY") != "" || getenv("ANTHROPIC_API_KEY_SECRET_ID") != "" || getenv("ANTHROPIC_API_KEY_PARAMETER") != "" {
		on = append(on, "anthropic")
	}
	if getenv("CHATTER_DEVLLM") == "on" {
		on = append(on, "devllm")
	}
	if len(on) == 0 {
		return "NOTICE: no LLM provider is configured, so replies come from devllm (offline, deterministic: it echoes,\n" +
			"  and `/tool calculator {\"expression\":\"2+3\"}` makes it call a tool). For a real model set OPENAI_API_KEY\n" +
			"  (or OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 for Ollama), ANTHROPIC_API_KEY,\n" +
			"  or AWS credentials for Bedrock, and restart."
	}
	return "LLM providers: " + strings.Join(on, ", ") + " (default: CHATTER_DEFAULT_PROVIDER, else the first)"
}

// portTaken says plainly what to do when the port is in use.
func portTaken(port int) string {
	return fmt.Sprintf("chatter dev: port %d on 127.0.0.1 is already taken — is another `chatter dev` (or `make dev`) running?\n"+
		"Stop it (Ctrl-C in its terminal) or use another port: chatter dev --port %d", port, port+1)
}

// dev is `chatter dev`: the whole local stack until Ctrl-C or SIGTERM.
func dev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 8080, "port on 127.0.0.1 to serve the API on (0 picks a free one)")
	dir := fs.String("dev-dir", defaultDevDir(), "dev folder: signing key, moto.log, events.log, metrics.log (env CHATTER_DEV_DIR)")
	user := fs.String("user", "dev", "user of the printed token")
	level := fs.String("log-level", "info", "access log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "terminal log format: text, or json (one object per line, as the Lambdas log)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "--log-level: %v\n", err)
		return 2
	}
	logger, err := devLogger(*format, stderr, lv)
	if err != nil {
		fmt.Fprintf(stderr, "--log-format: %v\n", err)
		return 2
	}
	slog.SetDefault(logger) // the delivery loop logs through the default logger
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintln(stderr, portTaken(*port))
		} else {
			fmt.Fprintf(stderr, "chatter dev: %v\n", err)
		}
		return 1
	}
	s, err := startStack(ctx, stackOptions{Listener: ln, Dir: *dir, Getenv: os.Getenv, Logger: logger})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "chatter dev: %v\n", err)
		return 1
	}
	defer s.Close()
	if err := waitReady(ctx, s.URL, 15*time.Second); err != nil {
		fmt.Fprintf(stderr, "chatter dev: %v\n", err)
		return 1
	}
	tok, err := s.Identity.Token(*user)
	if err != nil {
		fmt.Fprintf(stderr, "chatter dev: %v\n", err)
		return 1
	}
	printBanner(stdout, s, *user, tok)
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "chatter dev: stopping")
		s.Close()
		if s.Moto != nil {
			fmt.Fprintf(stderr, "chatter dev: stopped (moto_server pid %d ended)\n", s.Moto.PID())
		}
		return 0
	case err := <-s.served:
		fmt.Fprintf(stderr, "chatter dev: server stopped: %v\n", err)
		return 1
	}
}

// devLogger is the terminal's logger: text (readable) or JSON (what the Lambdas
// write, for tools that parse it).
func devLogger(format string, w io.Writer, lv slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%q is neither text nor json", format)
}

// waitReady asks the stack's own GET /ready (the table answers through the same
// store the routes use) until it says ready, so the banner is printed only for a
// stack that can serve.
func waitReady(ctx context.Context, base string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ready", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the stack is not ready after %s (GET /ready: %s)", within, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func printBanner(w io.Writer, s *stack, user, tok string) {
	aws := "AWS endpoint " + s.Endpoint + " (from AWS_ENDPOINT_URL)"
	if s.Moto != nil {
		aws = fmt.Sprintf("moto_server pid %d on %s — state is in memory and ends with this process", s.Moto.PID(), s.Endpoint)
	}
	auth := `-H "Authorization: Bearer $CHATTER_TOKEN"`
	js := `-H 'Content-Type: application/json'`
	fmt.Fprintf(w, `chatter dev: serving %[1]s
  %[2]s
  table %[3]s, bus %[4]s with its subscriber rules and queues (template.yaml); events are delivered to on-event-record, on-event-metrics and documents-ingest
  documents bucket %[12]s (S3 Object Created -> the ingest rule's queue -> the ingest handler)
  dev folder %[5]s (signing key; events.log, metrics.log, moto.log)
  browsers: CORS for %[11]s (CHATTER_ALLOWED_ORIGINS)
%[6]s

Token for user %[7]q (valid 30 days; another user: chatter token --user NAME):
  export CHATTER_TOKEN=%[8]s

# standard chat
curl -s %[1]s/api/v1/workflows/execute/chat %[9]s %[10]s -d '{"message":"hello"}'
# streaming chat (tokens as they come; tools on)
curl -N %[1]s/api/v1/workflows/execute/chat/streaming %[9]s %[10]s -d '{"message":"/tool calculator {\"expression\":\"6*7\"}","enable_tools":true}'
# list executions
curl -s %[1]s/api/v1/executions %[9]s
# any OpenAI client: base URL %[1]s/v1, API key $CHATTER_TOKEN (GET /v1/models lists what it can run)
curl -s %[1]s/v1/chat/completions %[9]s %[10]s -d '{"model":"template/general_chat","messages":[{"role":"user","content":"hello"}]}'
# add a document (ingested in the background: status pending -> processed), then ask about it
curl -s %[1]s/api/v1/documents/upload %[9]s -F file=@README.md -F chunk_size=1000
curl -s %[1]s/api/v1/workflows/execute/chat %[9]s %[10]s -d '{"message":"How do I run the tests?","workflow_template_name":"document_qa","enable_retrieval":true}'

Or chat in the terminal: go run ./cmd/chatter chat   (API reference: %[1]s/api/v1/openapi.json). Ctrl-C stops everything.
`, s.URL, aws, s.App.Config.Table, s.App.Config.EventBus, s.Identity.Dir, s.Provider, user, tok, auth, js,
		strings.Join(s.App.Config.CORS.Origins(), ", "), s.App.Config.DocumentsBucket)
}
