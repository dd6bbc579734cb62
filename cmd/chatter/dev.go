package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// dev runs an interactive offline chat: one conversation kept in memory, replies
// streamed token by token from devllm. (The HTTP dev stack replaces it when the API
// lands; the command stays `make dev`.)
func dev(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tmpl := fs.String("template", "universal_chat", "template to chat with")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	x, err := executor.New(executor.Options{Store: store.NewMemory(), Emitter: &events.Recorder{},
		Providers: []llm.Provider{devllm.New(devllm.Options{})}})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "chatter dev — offline chat with template %s and the devllm provider (state is in memory).\n", *tmpl)
	fmt.Fprintln(stdout, `Try: hello | /tool calculator {"expression":"2+3"} | /tool current_time {"timezone":"Europe/Paris"} | /break. Ctrl-D quits.`)
	enableTools := true
	conv := ""
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for {
		fmt.Fprint(stdout, "\nyou> ")
		if !in.Scan() {
			fmt.Fprintln(stdout)
			return 0
		}
		msg := strings.TrimSpace(in.Text())
		if msg == "" {
			continue
		}
		fmt.Fprint(stdout, "chatter> ")
		sink := executor.SinkFunc(func(c executor.Chunk) error {
			switch c.Type {
			case executor.ChunkToken:
				fmt.Fprint(stdout, c.Content)
			case executor.ChunkToolCall:
				fmt.Fprintf(stdout, "[calling %s %s] ", c.Tool.Name, c.Tool.Arguments)
			case executor.ChunkUsage:
				fmt.Fprintf(stdout, "\n  (%d tokens, cost $%.6f)", c.Usage.TotalTokens, c.Usage.Cost)
			case executor.ChunkError:
				fmt.Fprintf(stdout, "\n  [error %s: %s]", c.Error.Code, c.Error.Message)
			}
			return nil
		})
		res, err := x.Execute(ctx, executor.Request{Source: executor.Source{Kind: executor.SourceTemplate, ID: *tmpl},
			Input: executor.Input{UserID: "dev", Message: msg, ConversationID: conv,
				Config: executor.Config{EnableTools: &enableTools}}, Mode: executor.ModeStreaming}, sink)
		var pe *executor.PreparationError
		if errors.As(err, &pe) {
			fmt.Fprintf(stdout, "[%s]", pe.Error())
		}
		if res != nil {
			conv = res.ConversationID
		}
		if ctx.Err() != nil {
			return 0
		}
	}
}
