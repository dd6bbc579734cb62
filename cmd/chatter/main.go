// Command chatter is the developer CLI: the local stack (`chatter dev`), a terminal
// client for it or a deployed API (`chatter chat`), dev tokens, the load test, and
// offline workflow validation and runs with the deterministic devllm provider.
//
//	chatter dev [--port 8080] [--dev-dir DIR]
//	chatter chat [--url URL] [--stream-url URL] [--template NAME|--definition ID] [--conversation ID] ["message"]
//	chatter token [--user NAME]
//	chatter load [--executions 100]
//	chatter workflow validate FILE
//	chatter workflow run FILE|--template NAME --message TEXT [--stream] [--conversation ID] [--endpoint URL [--table NAME]]
//	chatter templates
//	chatter docs add FILE... | chatter docs list
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/tools"
	"github.com/chatterhq/chatter/internal/workflow"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

const usage = `chatter: LLM chat workflows

Usage:
  chatter dev [--port 8080] [--dev-dir DIR]    the local stack: API on 127.0.0.1, moto, events (Ctrl-C stops it)
  chatter chat [--url URL] [--stream-url URL] [--template NAME|--definition ID] [--conversation ID] ["message"]
                                               stream a chat from the dev server (or --url/--token a deployed one);
                                               no message: an interactive chat that keeps the conversation
  chatter token [--user NAME]                  print a dev token for any user
  chatter load [--executions 100]              load test against a dev stack it starts itself
  chatter workflow validate FILE
  chatter workflow run FILE --message TEXT [--stream] [--conversation ID] [--endpoint URL [--table NAME]]
  chatter workflow run --template NAME --message TEXT [--stream] [--conversation ID] [--endpoint URL [--table NAME]]
  chatter templates
  chatter docs add [--chunk-size N] [--chunk-overlap N] [--no-wait] FILE...
                                               upload documents (presigned past 4 MiB) and wait for their ingest
  chatter docs list                            the user's documents and their status

Exit status: 0 success, 1 invalid workflow or failed run, 2 usage error.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "templates":
		return listTemplates(stdout)
	case "docs":
		return docsCmd(ctx, args[1:], stdout, stderr)
	case "dev":
		return dev(ctx, args[1:], stdout, stderr)
	case "chat":
		return chatCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "load":
		return load(ctx, args[1:], stdout, stderr)
	case "workflow":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch args[1] {
		case "validate":
			return validate(args[2:], stdout, stderr)
		case "run":
			return runWorkflow(ctx, args[2:], stdout, stderr)
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
	return 2
}

func listTemplates(stdout io.Writer) int {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCAPABILITIES\tDESCRIPTION")
	for _, t := range workflow.Builtins() {
		caps := ""
		for _, c := range []struct {
			on   bool
			name string
		}{{t.Capabilities.Memory, "memory"}, {t.Capabilities.Retrieval, "retrieval"}, {t.Capabilities.Tools, "tools"}} {
			if c.on {
				if caps != "" {
					caps += ","
				}
				caps += c.name
			}
		}
		if caps == "" {
			caps = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, caps, t.Description)
	}
	_ = w.Flush()
	return 0
}

// validateOutput is what `workflow validate` prints.
type validateOutput struct {
	Valid    bool               `json:"valid"`
	Problems []workflow.Problem `json:"problems"`
}

func validate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, "usage: chatter workflow validate FILE\n")
		return 2
	}
	problems, err := loadAndValidate(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	out := validateOutput{Valid: len(problems) == 0, Problems: problems}
	if out.Problems == nil {
		out.Problems = []workflow.Problem{}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	if !out.Valid {
		return 1
	}
	return 0
}

func loadAndValidate(path string) ([]workflow.Problem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := workflow.Parse(b)
	if err != nil {
		var ve *workflow.ValidationError
		if errors.As(err, &ve) {
			return ve.Problems, nil
		}
		return nil, err
	}
	reg := tools.Builtins()
	return workflow.Validate(d, workflow.Options{ToolExists: reg.Has, Conditions: cond.Compiler}), nil
}

func runWorkflow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("workflow run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tmpl := fs.String("template", "", "built-in template name")
	msg := fs.String("message", "", "the user message")
	stream := fs.Bool("stream", false, "print tokens as they arrive")
	conv := fs.String("conversation", "", "conversation id to continue (without --endpoint, runs keep no state between invocations)")
	user := fs.String("user", "local", "user id")
	endpoint := fs.String("endpoint", "", "persist to DynamoDB at this endpoint URL (moto, LocalStack, AWS); the table is created from template.yaml if missing")
	table := fs.String("table", "chatter-local", "DynamoDB table name (with --endpoint)")
	// Flags may follow the FILE argument.
	var file string
	rest := args
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if (file == "") == (*tmpl == "") {
		fmt.Fprint(stderr, "give either a FILE or --template NAME\n")
		return 2
	}
	if *msg == "" {
		fmt.Fprint(stderr, "--message is required\n")
		return 2
	}
	req := executor.Request{Input: executor.Input{UserID: *user, Message: *msg, ConversationID: *conv}, Mode: executor.ModeStandard}
	if *tmpl != "" {
		req.Source = executor.Source{Kind: executor.SourceTemplate, ID: *tmpl}
	} else {
		b, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		d, err := workflow.Parse(b)
		if err != nil {
			printProblems(stdout, err)
			return 1
		}
		req.Source = executor.Source{Kind: executor.SourceInline, Definition: d}
	}
	var st executor.Store = store.NewMemory()
	if *endpoint != "" {
		ds, err := dynamoStore(ctx, *endpoint, *table)
		if err != nil {
			fmt.Fprintf(stderr, "error: %s\n", err)
			return 1
		}
		st = ds
	}
	x, err := executor.New(executor.Options{Store: st, Emitter: &events.Recorder{},
		Providers: []llm.Provider{devllm.New(devllm.Options{})}})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var sink executor.Sink = executor.Discard
	if *stream {
		req.Mode = executor.ModeStreaming
		sink = executor.SinkFunc(func(c wire.Chunk) error {
			switch c.Type {
			case wire.ChunkToken:
				fmt.Fprint(stdout, c.Content)
			case wire.ChunkToolCall:
				fmt.Fprintf(stderr, "[tool %s %s]\n", c.Tool.Name, c.Tool.Arguments)
			case wire.ChunkToolResult:
				fmt.Fprintf(stderr, "[tool %s -> %s]\n", c.Tool.Name, c.Tool.Result)
			case wire.ChunkUsage:
				fmt.Fprintf(stderr, "\n[usage: %d in, %d out, cost $%.6f known=%t]\n", c.Usage.InputTokens, c.Usage.OutputTokens, c.Usage.Cost, c.Usage.CostKnown)
			case wire.ChunkError:
				fmt.Fprintf(stderr, "\n[error %s: %s]\n", c.Error.Code, c.Error.Message)
			}
			return nil
		})
	}
	res, err := x.Execute(ctx, req, sink)
	if err != nil {
		var pe *executor.PreparationError
		if errors.As(err, &pe) && pe.Problems != nil {
			printProblems(stdout, &workflow.ValidationError{Problems: pe.Problems})
			return 1
		}
		fmt.Fprintf(stderr, "error: %s\n", err)
		if res == nil {
			return 1
		}
	}
	if !*stream {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res.ChatResponse())
	}
	if err != nil {
		return 1
	}
	return 0
}

func printProblems(w io.Writer, err error) {
	var ve *workflow.ValidationError
	out := validateOutput{Problems: []workflow.Problem{}}
	if errors.As(err, &ve) {
		out.Problems = ve.Problems
	} else {
		out.Problems = []workflow.Problem{{Code: workflow.CodeMalformedJSON, Pointer: "/", Message: err.Error()}}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
