package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/motoserver"
	"github.com/chatterhq/chatter/internal/rie"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
)

// The peers' bootstraps (shared/peers/coldstart/cmd/<name>) and the flags their
// README builds them with; GOOS/GOARCH are the host's, as the functions' are here,
// since both run under the RIE on this machine.
var (
	peerBootstraps = []string{"hello", "sdk"}
	peerBuildFlags = []string{"-trimpath", "-ldflags", "-s -w", "-tags", "lambda.norpc"}
	// deployedEnv builds for the deployed architecture (template.yaml's arm64),
	// whose sizes are the ones the goals speak of.
	deployedEnv = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}
)

// The goals of Step 14 on sizes and init.
const (
	chatMaxMiB     = 40
	crudMaxMiB     = 12
	chatInitMax    = 2.0 // x the SDK bootstrap's INIT
	chatInitAim    = "1.3x"
	healthMaxRatio = 1.2 // x the hello bootstrap, size and INIT
)

// chatFunctions run workflows and are held to the chat goals.
var chatFunctions = []string{"chat", "chat-stream"}

// bedrockSuffix names the Bedrock-only build of a chat function (-tags
// chatter_nosdk, template.yaml's Providers=bedrock) measured beside the default.
const bedrockSuffix = "-bedrock"

// target is one bootstrap measured under the RIE.
type target struct {
	name, bootstrap string
	event           []byte   // the first invoke's payload
	env             []string // beyond PATH, HOME and TZ
	crud            bool     // a resource route (lambdaapp.StartResource)
	sized           string   // the build whose size is reported: bootstrap, or its linux/arm64 twin
	size            int64
	init            []float64 // INIT REPORT durationMs of each cold run
}

// sizeOptions are the flags of the size and INIT measurement, which `sizes` runs
// alone and `bench` after the engine's benchmarks.
type sizeOptions struct {
	rie, build, deployed     string
	bedrock, bedrockDeployed string
	cold                     int
}

// flags registers o's flags on fs; buildDefault is -build's default ("" in bench:
// measure no sizes unless given the built functions).
func (o *sizeOptions) flags(fs *flag.FlagSet, buildDefault string) {
	fs.StringVar(&o.rie, "rie", "bin/aws-lambda-rie", "the Lambda Runtime Interface Emulator")
	fs.StringVar(&o.build, "build", buildDefault, "the functions' stripped bootstraps, one file per function, for this host")
	fs.StringVar(&o.deployed, "deployed", "", "the same functions built for linux/arm64, as deployed: the sizes reported are theirs (and the peers' built alike); empty: the host build's")
	fs.StringVar(&o.bedrock, "bedrock", "", "the chat functions built Bedrock-only (-tags chatter_nosdk) for this host, measured too as <name>"+bedrockSuffix+"; empty: not measured")
	fs.StringVar(&o.bedrockDeployed, "bedrock-deployed", "", "the same for linux/arm64, whose sizes are reported")
	fs.IntVar(&o.cold, "cold", 31, "cold runs of each bootstrap, interleaved round by round")
}

func sizesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sizes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	peers := fs.String("peers", "../shared/peers", "the peers' directory (holding coldstart)")
	var o sizeOptions
	o.flags(fs, "build/sizes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows, err := measureSizes(ctx, *peers, o, stdout, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	printTable(stdout, rows)
	return nil
}

// measureSizes measures the functions built in o.build and the peers' bootstraps:
// it prints each one's size and INIT to stdout and returns them held to their goals.
func measureSizes(ctx context.Context, peers string, o sizeOptions, stdout, stderr io.Writer) ([]row, error) {
	if _, err := os.Stat(o.rie); err != nil {
		return nil, fmt.Errorf("the RIE is not at %s (make rie): %w", o.rie, err)
	}
	work, err := os.MkdirTemp("", "chatter-perf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	env, stop, err := localStack(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	targets, err := functionTargets(o.build, env)
	if err != nil {
		return nil, err
	}
	if o.bedrock != "" {
		twins, err := functionTargets(o.bedrock, env)
		if err != nil {
			return nil, err
		}
		for _, t := range twins {
			n := t.name
			t.name += bedrockSuffix
			t.sized = t.bootstrap
			if o.bedrockDeployed != "" {
				t.sized = filepath.Join(o.bedrockDeployed, n)
			}
		}
		targets = append(targets, twins...)
	}
	for _, p := range peerBootstraps {
		out := filepath.Join(work, p)
		args := append(append([]string{"build"}, peerBuildFlags...), "-o", out, "./cmd/"+p)
		if err := command(ctx, filepath.Join(peers, "coldstart"), []string{"CGO_ENABLED=0"}, stderr, "go", args...).Run(); err != nil {
			return nil, fmt.Errorf("building the peers' %s: %w", p, err)
		}
		t := &target{name: p, bootstrap: out, sized: out, event: []byte(`{}`)}
		if o.deployed != "" {
			t.sized = out + ".arm64"
			args := append(append([]string{"build"}, peerBuildFlags...), "-o", t.sized, "./cmd/"+p)
			if err := command(ctx, filepath.Join(peers, "coldstart"), deployedEnv, stderr, "go", args...).Run(); err != nil {
				return nil, fmt.Errorf("building the peers' %s for linux/arm64: %w", p, err)
			}
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if t.sized == "" {
			t.sized = t.bootstrap
			if o.deployed != "" {
				t.sized = filepath.Join(o.deployed, t.name)
			}
		}
		fi, err := os.Stat(t.sized)
		if err != nil {
			return nil, err
		}
		t.size = fi.Size()
	}

	// Each round runs every bootstrap once, in an order of its own, so the machine's
	// drift spreads over all of them alike.
	for r := range o.cold {
		order := slices.Clone(targets)
		rng := rand.New(rand.NewPCG(uint64(r), 14))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, t := range order {
			ms, err := coldRun(ctx, o.rie, t)
			for try := 1; errors.Is(err, rie.ErrRuntimeAPI) && try < 3; try++ {
				fmt.Fprintf(stderr, "round %d: %s: %v; again\n", r+1, t.name, rie.ErrRuntimeAPI)
				ms, err = coldRun(ctx, o.rie, t)
			}
			if err != nil {
				return nil, fmt.Errorf("round %d: %s: %w", r+1, t.name, err)
			}
			t.init = append(t.init, ms)
		}
		fmt.Fprintf(stderr, "cold round %d/%d done\n", r+1, o.cold)
	}

	byName := map[string]*target{}
	fmt.Fprintf(stdout, "%d interleaved cold runs each under the RIE; INIT is the median INIT REPORT durationMs\n\n", o.cold)
	arch := "this host"
	if o.deployed != "" {
		arch = "linux/arm64"
	}
	fmt.Fprintf(stdout, "| function | stripped MiB (%s) | INIT ms |\n", arch)
	fmt.Fprintln(stdout, "|---|---:|---:|")
	for _, t := range targets {
		byName[t.name] = t
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f |\n", t.name, mib(t.size), median(t.init))
	}
	return sizeRows(byName)
}

// sizeRows holds the measured targets to the goals.
func sizeRows(byName map[string]*target) ([]row, error) {
	for _, n := range append(slices.Clone(peerBootstraps), append(slices.Clone(chatFunctions), "health")...) {
		if byName[n] == nil {
			return nil, fmt.Errorf("%s was not measured", n)
		}
	}
	hello, sdk, health := byName["hello"], byName["sdk"], byName["health"]
	initCell := func(t *target) string { return fmt.Sprintf("%s %.2f ms", t.name, median(t.init)) }
	sizeCell := func(t *target) string { return fmt.Sprintf("%s %.2f MiB", t.name, mib(t.size)) }
	var rows []row
	for _, n := range chatFunctions {
		t := byName[n]
		rows = append(rows, ratioRow(n+", INIT", initCell(t), initCell(sdk), medianRatio(t.init, sdk.init), chatInitMax, chatInitAim),
			limitRow(n+", stripped size", mib(t.size), chatMaxMiB, "MiB"))
	}
	for _, n := range chatFunctions {
		if t := byName[n+bedrockSuffix]; t != nil {
			rows = append(rows, ratioRow(t.name+" (Providers=bedrock), INIT", initCell(t), initCell(sdk), medianRatio(t.init, sdk.init), chatInitMax, chatInitAim),
				limitRow(t.name+" (Providers=bedrock), stripped size", mib(t.size), chatMaxMiB, "MiB"))
		}
	}
	var crud []*target
	for _, t := range byName {
		if t.crud {
			crud = append(crud, t)
		}
	}
	if len(crud) > 0 {
		// The largest, the first by name of those of its size.
		slices.SortFunc(crud, func(a, b *target) int { return strings.Compare(a.name, b.name) })
		big := slices.MaxFunc(crud, func(a, b *target) int { return cmp.Compare(a.size, b.size) })
		rows = append(rows, limitRow(fmt.Sprintf("CRUD, stripped size (largest of %d: %s)", len(crud), big.name),
			mib(big.size), crudMaxMiB, "MiB"))
	}
	rows = append(rows,
		ratioRow("health, stripped size", sizeCell(health), sizeCell(hello), float64(health.size)/float64(hello.size), healthMaxRatio, ""),
		ratioRow("health, INIT", initCell(health), initCell(hello), medianRatio(health.init, hello.init), healthMaxRatio, ""))
	return rows, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// functionTargets lists the bootstraps in dir (one file per function, named as
// functions/<name>), each with its events/<name>.json sample as the first invoke.
func functionTargets(dir string, env []string) ([]*target, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("the built functions (make sizes builds them): %w", err)
	}
	var out []*target
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		main, err := os.ReadFile(filepath.Join("functions", name, "main.go"))
		if err != nil {
			return nil, fmt.Errorf("%s in %s is no function: %w", name, dir, err)
		}
		event, err := os.ReadFile(filepath.Join("events", name+".json"))
		if err != nil {
			return nil, err
		}
		bs, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, &target{name: name, bootstrap: bs, event: event, env: env,
			crud: bytes.Contains(main, []byte("lambdaapp.StartResource("))})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no bootstraps in %s", dir)
	}
	return out, nil
}

// localStack starts moto with a table and a bus and serves an (empty) JWKS on
// loopback: the environment the functions get (as the RIE tests give it, so every
// one of them initialises, plus the deployed Go runtime settings). stop ends both.
func localStack(ctx context.Context) (env []string, stop func(), err error) {
	m, err := motoserver.Start(ctx, motoserver.Options{})
	if err != nil {
		return nil, nil, err
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"keys":[]}`)
	}))
	stop = func() { jwks.Close(); _ = m.Stop() }
	const region, name = "us-east-1", "chatter-perf"
	cfg := aws.Config{Region: region, BaseEndpoint: aws.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	if err := dynamotable.CreateTable(ctx, dynamodb.NewFromConfig(cfg), chatter.TemplateYAML, name); err != nil {
		stop()
		return nil, nil, fmt.Errorf("creating the table: %w", err)
	}
	if _, err := eventbridge.NewFromConfig(cfg).CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		stop()
		return nil, nil, fmt.Errorf("creating the bus: %w", err)
	}
	// The Go runtime's settings change INIT (the collector runs during init or
	// not), so the functions start with the deployed ones.
	goEnv, err := devstack.GoRuntimeEnv(chatter.TemplateYAML)
	if err != nil {
		stop()
		return nil, nil, err
	}
	env = append(goEnv, "AWS_ENDPOINT_URL="+m.URL, "AWS_REGION="+region,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "CHATTER_STAGE="+lambdaapp.StageLocal,
		"CHATTER_TABLE="+name, "CHATTER_EVENT_BUS="+name,
		"CHATTER_CURSOR_KEY="+strings.Repeat("p", lambdaapp.MinCursorKeyBytes),
		"CHATTER_BEDROCK=off", // moto has no Bedrock: the offline devllm answers
		"CHATTER_JWT_ISSUER=https://issuer.test/", "CHATTER_JWT_AUDIENCE=chatter", "CHATTER_JWKS_URL="+jwks.URL)
	return env, stop, nil
}

// coldRun starts the RIE on t, sends the one invoke that spawns the bootstrap, and
// returns the INIT the emulator reports; it stops the emulator and the bootstrap
// before it returns.
func coldRun(ctx context.Context, rieBin string, t *target) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e, err := rie.Start(ctx, rie.Options{Bin: rieBin, Bootstrap: t.bootstrap, Env: t.env})
	if err != nil {
		return 0, err
	}
	defer e.Stop()
	_, invokeErr := e.Invoke(ctx, t.event)
	var status *rie.StatusError
	if invokeErr != nil && !errors.As(invokeErr, &status) {
		return 0, fmt.Errorf("%w\n%s", invokeErr, e.Log())
	}
	ms, err := e.Init(ctx)
	if err == nil && status != nil {
		err = status
	}
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, e.Log())
	}
	return ms, nil
}
