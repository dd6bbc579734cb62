package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/httpapi"
)

// defaultURL is where `chatter dev` listens unless told otherwise.
const defaultURL = "http://127.0.0.1:8080"

// frame is one Server-Sent Event as the streaming routes write it.
type frame struct {
	ID    string
	Event string
	Data  []byte
}

// readSSE calls fn with each frame of r until "data: [DONE]", the end of r, or an
// error from fn. It reports whether [DONE] was seen. Comments (": ping") are
// skipped.
func readSSE(r io.Reader, fn func(frame) error) (done bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var f frame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if f.Data == nil && f.Event == "" {
				continue
			}
			if string(f.Data) == "[DONE]" {
				return true, nil
			}
			if err := fn(f); err != nil {
				return false, err
			}
			f = frame{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id:"):
			f.ID = strings.TrimSpace(line[3:])
		case strings.HasPrefix(line, "event:"):
			f.Event = strings.TrimSpace(line[6:])
		case strings.HasPrefix(line, "data:"):
			d := strings.TrimPrefix(line[5:], " ")
			if f.Data != nil {
				f.Data = append(f.Data, '\n')
			}
			f.Data = append(f.Data, d...)
		}
	}
	return false, sc.Err()
}

// chatClient talks to a running chatter API (the dev server or a deployed one).
type chatClient struct {
	base string
	// streamBase is the streaming Function URL, the second host of a deployment
	// (API Gateway buffers responses, so streams go there); base when empty.
	streamBase string
	token      string
	http       *http.Client
}

// streamPath is the streaming chat route, served by the Function URL.
const streamPath = "/api/v1/workflows/execute/chat/streaming"

// discoverStreamURL reads the streaming host from the API's own OpenAPI document
// (served without a token): the first server of the streaming operation, with its
// variables' defaults filled in. A relative server, or the document's unfilled
// placeholder, means base itself serves streams (the dev stack).
func discoverStreamURL(ctx context.Context, c *chatClient) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/openapi.json", nil, "application/json")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	type server struct {
		URL       string `json:"url"`
		Variables map[string]struct {
			Default string `json:"default"`
		} `json:"variables"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Servers []server `json:"servers"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&doc); err != nil {
		return "", fmt.Errorf("decoding the OpenAPI document: %w", err)
	}
	servers := doc.Paths[streamPath]["post"].Servers
	if len(servers) == 0 {
		return c.base, nil
	}
	u := servers[0].URL
	for name, v := range servers[0].Variables {
		u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
	}
	if u == httpapi.StreamURLPlaceholder || !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return c.base, nil
	}
	return strings.TrimRight(u, "/"), nil
}

// apiError is a problem response (Status is the HTTP status, also when the body
// was not a problem).
type apiError wire.Problem

func (e *apiError) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, msg)
}

func (c *chatClient) do(ctx context.Context, method, path string, body any, accept string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (is `chatter dev` running?)", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		e := &apiError{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Detail = strings.TrimSpace(string(b))
		}
		return nil, e
	}
	return resp, nil
}

// turn is what one streamed chat produced.
type turn struct {
	ExecutionID    string
	ConversationID string
	Text           string
	Usage          *wire.Usage
	Response       *wire.ChatResponse
	Err            *wire.ErrorBody
	Done           bool // the stream ended with [DONE]
	Frames         []string
}

// stream sends one chat turn to the streaming route and calls show with each
// chunk as it arrives.
func (c *chatClient) stream(ctx context.Context, body wire.ChatRequest, show func(wire.Chunk)) (*turn, error) {
	sc := *c
	if c.streamBase != "" {
		sc.base = c.streamBase
	}
	resp, err := sc.do(ctx, http.MethodPost, streamPath, body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	t := &turn{}
	var text strings.Builder
	t.Done, err = readSSE(resp.Body, func(f frame) error {
		var ch wire.Chunk
		if err := json.Unmarshal(f.Data, &ch); err != nil {
			return fmt.Errorf("frame %s is not a chunk: %w", f.ID, err)
		}
		if ch.Type != f.Event {
			return fmt.Errorf("frame %s: event %q but data type %q", f.ID, f.Event, ch.Type)
		}
		t.Frames = append(t.Frames, ch.Type)
		switch ch.Type {
		case wire.ChunkStart:
			t.ExecutionID, t.ConversationID = ch.ExecutionID, ch.ConversationID
		case wire.ChunkToken:
			text.WriteString(ch.Content)
		case wire.ChunkUsage:
			t.Usage = ch.Usage
		case wire.ChunkComplete:
			t.Response = ch.Response
			if ch.Response != nil {
				t.ConversationID, t.ExecutionID = ch.Response.ConversationID, ch.Response.ExecutionID
			}
		case wire.ChunkError:
			t.Err = ch.Error
		}
		if ch.ConversationID != "" {
			t.ConversationID = ch.ConversationID
		}
		if ch.ExecutionID != "" && t.ExecutionID == "" {
			t.ExecutionID = ch.ExecutionID
		}
		if show != nil {
			show(ch)
		}
		return nil
	})
	t.Text = text.String()
	if err != nil {
		return t, fmt.Errorf("reading the stream: %w", err)
	}
	return t, nil
}

// standard sends one chat turn to the standard route.
func (c *chatClient) standard(ctx context.Context, body wire.ChatRequest) (*wire.ChatResponse, error) {
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/workflows/execute/chat", body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out wire.ChatResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding the chat response: %w", err)
	}
	return &out, nil
}

// devToken mints a token for user from the dev folder's key, which `chatter dev`
// created.
func devToken(dir, user string) (string, error) {
	id, err := devstack.LoadIdentity(dir)
	if err != nil {
		return "", err
	}
	return id.Token(user)
}

func defaultDevDir() string {
	wd, _ := os.Getwd()
	return devstack.DefaultDir(os.Getenv, wd)
}

// token prints a dev token for any user name.
func token(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "dev", "the token's subject (user id)")
	dir := fs.String("dev-dir", defaultDevDir(), "dev folder holding the signing key")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q; usage: chatter token [--user NAME]\n", fs.Arg(0))
		return 2
	}
	tok, err := devToken(*dir, *user)
	if err != nil {
		fmt.Fprintf(stderr, "error: %s\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// chatCmd is `chatter chat`: one streamed turn, or a REPL when no message is given.
func chatCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("CHATTER_URL", defaultURL), "chatter API base URL (env CHATTER_URL)")
	streamURL := fs.String("stream-url", os.Getenv("CHATTER_STREAM_URL"),
		"streaming Function URL, the stack output ChatStreamUrl (env CHATTER_STREAM_URL); default: read from the API's OpenAPI servers")
	tok := fs.String("token", os.Getenv("CHATTER_TOKEN"), "bearer token (env CHATTER_TOKEN); default: a dev token minted from the dev folder")
	user := fs.String("user", "dev", "user for the minted dev token")
	dir := fs.String("dev-dir", defaultDevDir(), "dev folder holding the signing key")
	tmpl := fs.String("template", "", "run this template (e.g. general_chat)")
	def := fs.String("definition", "", "run this stored definition id")
	conv := fs.String("conversation", "", "continue this conversation")
	provider := fs.String("provider", "", "LLM provider for this chat (bedrock, openai, anthropic, devllm)")
	model := fs.String("model", "", "model for this chat")
	tools := fs.Bool("tools", true, "offer the built-in tools (dynamic chat only)")
	// Flags may come after the message.
	var words []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			words = append(words, rest[0])
			rest = rest[1:]
		}
	}
	if *tmpl != "" && *def != "" {
		fmt.Fprintln(stderr, "give --template or --definition, not both")
		return 2
	}
	if *tok == "" {
		t, err := devToken(*dir, *user)
		if err != nil {
			fmt.Fprintf(stderr, "error: no token: %s (set CHATTER_TOKEN or --token for a deployed API)\n", err)
			return 1
		}
		*tok = t
	}
	c := &chatClient{base: *base, streamBase: *streamURL, token: *tok, http: &http.Client{}}
	if c.streamBase == "" {
		u, err := discoverStreamURL(ctx, c)
		if err != nil {
			fmt.Fprintf(stderr, "error: finding the streaming host (give --stream-url): %s\n", err)
			return 1
		}
		c.streamBase = u
	}
	body := wire.ChatRequest{ConversationID: *conv, WorkflowTemplateName: *tmpl, WorkflowDefinitionID: *def,
		RunConfig: wire.RunConfig{Provider: *provider, Model: *model}}
	if *tmpl == "" && *def == "" {
		body.EnableTools = tools
	}
	if len(words) > 0 {
		body.Message = strings.Join(words, " ")
		if _, err := chatTurn(ctx, c, body, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "error: %s\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "chatting with %s (Ctrl-D quits). Try: hello | /tool calculator {\"expression\":\"2+3\"} (devllm)\n", *base)
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for {
		fmt.Fprint(stderr, "\nyou> ")
		if !in.Scan() {
			fmt.Fprintln(stderr)
			return 0
		}
		msg := strings.TrimSpace(in.Text())
		if msg == "" {
			continue
		}
		body.Message = msg
		t, err := chatTurn(ctx, c, body, stdout, stderr)
		if ctx.Err() != nil {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "error: %s\n", err)
			continue
		}
		if t.ConversationID != "" {
			body.ConversationID = t.ConversationID
		}
	}
}

// chatTurn streams one turn: tokens to stdout as they come; tool calls, usage
// and ids to stderr.
func chatTurn(ctx context.Context, c *chatClient, body wire.ChatRequest, stdout, stderr io.Writer) (*turn, error) {
	t, err := c.stream(ctx, body, func(ch wire.Chunk) {
		switch ch.Type {
		case wire.ChunkToken:
			fmt.Fprint(stdout, ch.Content)
		case wire.ChunkToolCall:
			fmt.Fprintf(stderr, "\n[tool call %s %s]\n", ch.Tool.Name, ch.Tool.Arguments)
		case wire.ChunkToolResult:
			state := "->"
			if ch.Tool.IsError {
				state = "-> error:"
			}
			fmt.Fprintf(stderr, "[tool %s %s %s]\n", ch.Tool.Name, state, ch.Tool.Result)
		case wire.ChunkError:
			fmt.Fprintf(stderr, "\n[error %s: %s]\n", ch.Error.Code, ch.Error.Message)
		}
	})
	if err != nil {
		return t, err
	}
	fmt.Fprintln(stdout)
	if u := t.Usage; u != nil {
		cost := fmt.Sprintf("$%.6f", u.Cost)
		if !u.CostKnown {
			cost = "cost unknown"
		}
		fmt.Fprintf(stderr, "[%d tokens: %d in, %d out; %s] ", u.TotalTokens, u.InputTokens, u.OutputTokens, cost)
	}
	fmt.Fprintf(stderr, "[conversation %s, execution %s]\n", t.ConversationID, t.ExecutionID)
	if t.Err != nil {
		return t, fmt.Errorf("the run failed: %s: %s", t.Err.Code, t.Err.Message)
	}
	if !t.Done {
		return t, errors.New("the stream ended without [DONE]")
	}
	return t, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
