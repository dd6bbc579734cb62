package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/devstack"
)

// devProcess is `chatter dev` running as its own process.
type devProcess struct {
	cmd    *exec.Cmd
	url    string
	dir    string
	bin    string
	stderr *bytes.Buffer
	exited chan struct{}
}

// buildCLI builds this command into a temporary folder.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chatter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// devEnvForTest is the environment of a dev server under test: devllm answers
// whatever the developer has configured, and the table and bus are its own.
func devEnvForTest(name string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OPENAI_") || strings.HasPrefix(k, "ANTHROPIC_") || strings.HasPrefix(k, "BEDROCK_") ||
			strings.HasPrefix(k, "CHATTER_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "CHATTER_BEDROCK=off", "CHATTER_DEVLLM=on", "CHATTER_DEFAULT_PROVIDER=devllm",
		"CHATTER_TABLE="+name, "CHATTER_EVENT_BUS="+name)
}

var servingLine = regexp.MustCompile(`chatter dev: serving (http://127\.0\.0\.1:\d+)`)

// startDev starts `chatter dev --port 0` and waits for it to serve.
func startDev(t *testing.T, bin string) *devProcess {
	t.Helper()
	p := &devProcess{dir: t.TempDir(), bin: bin, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "dev", "--port", "0", "--dev-dir", p.dir, "--log-level", "warn")
	p.cmd.Env = devEnvForTest(fmt.Sprintf("journey-%d", time.Now().UnixNano()))
	p.cmd.Stderr = &lockedWriter{w: p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(t) })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.url = <-found:
	case <-p.exited:
		t.Fatalf("chatter dev exited before serving:\n%s", p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("chatter dev did not serve within 60s:\n%s", p.stderr)
	}
	return p
}

// stop ends the server by its PID with SIGTERM, as Ctrl-C would, and waits.
func (p *devProcess) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("chatter dev ignored SIGTERM for 15s")
	}
}

type lockedWriter struct {
	mu chan struct{}
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	if l.mu == nil {
		l.mu = make(chan struct{}, 1)
	}
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.w.Write(b)
}

// call is one HTTP exchange of the journey.
type call struct {
	t     *testing.T
	base  string
	token string
}

func (c call) do(method, path string, body any, hdr ...string) (int, []byte, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// json does one exchange, checks the status and decodes the body into out.
func (c call) json(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, b, h := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, b)
	}
	if want == http.StatusNoContent {
		if len(b) != 0 {
			c.t.Errorf("%s %s: 204 with a body %q", method, path, b)
		}
		return
	}
	ct := h.Get("Content-Type")
	if want < 300 && !strings.HasPrefix(ct, "application/json") || want >= 400 && ct != "application/problem+json" {
		c.t.Errorf("%s %s: Content-Type %q for status %d", method, path, ct, status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: body is not the expected JSON: %v\n%s", method, path, err, b)
		}
	}
}

type problem = wire.Problem

type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type executionBody struct {
	ExecutionID    string `json:"execution_id"`
	Status         string `json:"status"`
	ConversationID string `json:"conversation_id"`
	Mode           string `json:"mode"`
	Output         struct {
		Response  string `json:"response"`
		ToolCalls []struct {
			Name   string `json:"name"`
			Result string `json:"result"`
		} `json:"tool_calls"`
	} `json:"output_data"`
	Usage *wire.Usage `json:"usage"`
	Log   []struct {
		NodeID string `json:"node_id"`
	} `json:"execution_log"`
}

// recordBody is a stored execution as GET /executions/{id} (the predecessor's
// DetailedWorkflowExecutionResponse) and the lists show it.
type recordBody struct {
	ID           string      `json:"id"`
	Status       string      `json:"status"`
	Mode         string      `json:"mode"`
	Usage        *wire.Usage `json:"usage"`
	ExecutionLog []struct {
		NodeID string `json:"node_id"`
	} `json:"execution_log"`
}

type conversationBody struct {
	ID           string  `json:"id"`
	MessageCount int     `json:"message_count"`
	TotalTokens  int     `json:"total_tokens"`
	TotalCost    float64 `json:"total_cost"`
}

type messageBody struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Seq     int    `json:"seq"`
	Status  string `json:"status"`
}

// toolDefinition is an editor-format graph: an agent that may call the
// calculator, then a variable node that counts turns.
const toolDefinition = `{
  "name": "journey calculator",
  "nodes": [
    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {"label": "Start"}},
    {"id": "agent", "type": "custom", "position": {"x": 200, "y": 0}, "data": {"label": "Agent", "nodeType": "call_model", "config": {"system_prompt": "You can calculate."}}},
    {"id": "tools", "type": "execute_tools", "position": {"x": 400, "y": 0}, "config": {"allowed_tools": ["calculator"], "max_tool_calls": 3}},
    {"id": "count", "type": "variable", "data": {"config": {"operation": "increment", "variable": "turns"}}}
  ],
  "edges": [
    {"id": "e1", "source": "start", "target": "agent"},
    {"id": "e2", "source": "agent", "target": "tools", "data": {"condition": "has_tool_calls"}},
    {"id": "e3", "source": "tools", "target": "agent"},
    {"id": "e4", "source": "agent", "target": "count", "condition": "no_tool_calls"},
    {"id": "e5", "source": "count", "target": "__end__"}
  ]
}`

// TestJourney_EveryStepOverHTTPAgainstChatterDev drives a `chatter dev` process
// through the whole life of a workflow the way a client would: only HTTP.
func TestJourney_EveryStepOverHTTPAgainstChatterDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chatter dev and moto")
	}
	bin := buildCLI(t)
	srv := startDev(t, bin)
	tok, err := exec.Command(bin, "token", "--user", "journey", "--dev-dir", srv.dir).Output()
	if err != nil {
		t.Fatalf("chatter token: %v", err)
	}
	c := call{t: t, base: srv.url, token: strings.TrimSpace(string(tok))}
	anon := call{t: t, base: srv.url}
	other := c
	other.token = mustToken(t, srv.dir, "someone-else")

	// Open health, closed everything else.
	anon.json("GET", "/health", nil, 200, nil)
	anon.json("GET", "/ready", nil, 200, nil)
	var p problem
	anon.json("GET", "/api/v1/executions", nil, 401, &p)
	if p.Code != "unauthorized" {
		t.Errorf("401 code %q", p.Code)
	}

	// The OpenAPI document, open: in dev the streaming host is this same stack.
	status, doc, _ := anon.do("GET", "/api/v1/openapi.json", nil)
	if status != 200 || !bytes.Contains(doc, []byte(`"default": "`+srv.url+`"`)) {
		t.Errorf("openapi.json (%d) does not name %s as the streaming server", status, srv.url)
	}

	// A definition with tools.
	var def struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	c.json("POST", "/api/v1/workflows/definitions", json.RawMessage(toolDefinition), 200, &def)
	if def.ID == "" || def.Version != 1 {
		t.Fatalf("created definition %+v", def)
	}
	c.json("GET", "/api/v1/workflows/definitions/"+def.ID, nil, 200, nil)
	other.json("GET", "/api/v1/workflows/definitions/"+def.ID, nil, 404, nil)

	// Run it, standard: the calculator is called and its result answered.
	var std struct {
		executionBody
		Output struct {
			Response  string `json:"response"`
			ToolCalls []struct {
				Name   string `json:"name"`
				Result string `json:"result"`
			} `json:"tool_calls"`
			Variables map[string]any `json:"variables"`
		} `json:"output_data"`
	}
	c.json("POST", "/api/v1/workflows/definitions/"+def.ID+"/execute",
		map[string]any{"message": `/tool calculator {"expression":"2+3"}`}, 200, &std)
	if std.Status != "completed" || !strings.Contains(std.Output.Response, "5") || len(std.Output.ToolCalls) != 1 ||
		std.Output.ToolCalls[0].Result != "5" || std.Output.Variables["turns"] != float64(1) {
		t.Fatalf("standard run: %+v", std)
	}
	conv := std.ConversationID

	// Run it streaming in the same conversation: frames in order, then [DONE].
	cc := &chatClient{base: srv.url, token: c.token, http: http.DefaultClient}
	resp, err := cc.do(context.Background(), "POST", "/api/v1/workflows/definitions/"+def.ID+"/execute?stream=true",
		map[string]any{"message": `/tool calculator {"expression":"6*7"}`, "conversation_id": conv}, "text/event-stream")
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("stream Content-Type %q", ct)
	}
	var types []string
	var text strings.Builder
	var streamExec string
	done, err := readSSE(resp.Body, func(f frame) error {
		var ch wire.Chunk
		if err := json.Unmarshal(f.Data, &ch); err != nil {
			return err
		}
		types = append(types, ch.Type)
		if ch.Type == wire.ChunkToken {
			text.WriteString(ch.Content)
		}
		if ch.Type == wire.ChunkStart {
			streamExec = ch.ExecutionID
			if ch.ConversationID != conv {
				t.Errorf("stream conversation %q, want %q", ch.ConversationID, conv)
			}
		}
		return nil
	})
	resp.Body.Close()
	if err != nil || !done {
		t.Fatalf("stream: done=%v err=%v frames %v", done, err, types)
	}
	for _, want := range []string{"start", "tool_call", "tool_result", "token", "usage", "done"} {
		if !slices.Contains(types, want) {
			t.Errorf("stream lacks a %s frame: %v", want, types)
		}
	}
	if types[0] != "start" || types[len(types)-1] != "done" || !strings.Contains(text.String(), "42") {
		t.Errorf("stream frames %v, text %q", types, text.String())
	}

	// Continue by the chat route: the history is used (more input tokens than the
	// same message in a fresh conversation).
	var fresh, cont wire.ChatResponse
	c.json("POST", "/api/v1/workflows/execute/chat", map[string]any{"message": "what did I ask?"}, 200, &fresh)
	c.json("POST", "/api/v1/workflows/execute/chat", map[string]any{"message": "what did I ask?", "conversation_id": conv}, 200, &cont)
	if cont.ConversationID != conv || fresh.ConversationID == conv {
		t.Fatalf("conversations: continued %q fresh %q, want %q and another", cont.ConversationID, fresh.ConversationID, conv)
	}
	if cont.Usage.InputTokens <= fresh.Usage.InputTokens {
		t.Errorf("continued turn read %d input tokens, fresh %d: the history was not used",
			cont.Usage.InputTokens, fresh.Usage.InputTokens)
	}

	// The execution record and its log land through the bus, the rule's queue and
	// the record subscriber.
	var detail recordBody
	deadline := time.Now().Add(20 * time.Second)
	var evs list[struct {
		Seq  int    `json:"seq"`
		Type string `json:"type"`
	}]
	for {
		c.json("GET", "/api/v1/executions/"+streamExec, nil, 200, &detail)
		c.json("GET", "/api/v1/executions/"+streamExec+"/events?limit=100", nil, 200, &evs)
		if len(evs.Items) > 0 && evs.Items[len(evs.Items)-1].Type == "execution_completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s events did not land within 20s: %+v", streamExec, evs.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if detail.Status != "completed" || detail.Mode != "streaming" || len(detail.ExecutionLog) == 0 || detail.Usage.TotalTokens == 0 {
		t.Errorf("execution detail %+v", detail)
	}
	for i, e := range evs.Items {
		if e.Seq != i+1 {
			t.Errorf("event %d has seq %d: the log has gaps or duplicates", i, e.Seq)
		}
	}
	if got := evs.Items[0].Type; got != "workflow_started" {
		t.Errorf("first event %s", got)
	}
	other.json("GET", "/api/v1/executions/"+streamExec, nil, 404, nil)

	// Lists.
	var convs struct {
		Conversations []conversationBody `json:"conversations"`
		TotalCount    int                `json:"total_count"`
	}
	c.json("GET", "/api/v1/conversations/", nil, 200, &convs)
	i := slices.IndexFunc(convs.Conversations, func(x conversationBody) bool { return x.ID == conv })
	if i < 0 || len(convs.Conversations) != 2 || convs.TotalCount != 2 {
		t.Fatalf("conversations %+v, want %s and the fresh one", convs, conv)
	}
	wantTokens := std.Usage.TotalTokens + detail.Usage.TotalTokens + cont.Usage.TotalTokens
	if got := convs.Conversations[i]; got.MessageCount != 6 || got.TotalTokens != wantTokens {
		t.Errorf("conversation aggregates %+v, want 6 messages and %d tokens", got, wantTokens)
	}
	var msgs []messageBody
	c.json("GET", "/api/v1/conversations/"+conv+"/messages", nil, 200, &msgs)
	if len(msgs) != 6 {
		t.Fatalf("messages %+v", msgs)
	}
	for j, m := range msgs {
		wantRole := []string{"user", "assistant"}[j%2]
		if m.Role != wantRole || m.Seq != j+1 || m.Status != "complete" || m.Content == "" {
			t.Errorf("message %d: %+v, want role %s seq %d", j, m, wantRole, j+1)
		}
	}
	var execs, others struct {
		Executions []recordBody `json:"executions"`
		TotalCount int          `json:"total_count"`
	}
	c.json("GET", "/api/v1/workflows/executions", nil, 200, &execs)
	if len(execs.Executions) != 4 || execs.TotalCount != 4 {
		t.Errorf("%d executions listed (total %d), want 4", len(execs.Executions), execs.TotalCount)
	}
	var mine []recordBody
	c.json("GET", "/api/v1/workflows/definitions/"+def.ID+"/executions", nil, 200, &mine)
	if len(mine) != 2 {
		t.Errorf("%d executions of the definition, want 2", len(mine))
	}
	other.json("GET", "/api/v1/executions", nil, 200, &others)
	if len(others.Executions) != 0 || others.TotalCount != 0 {
		t.Errorf("another user sees %d executions", len(others.Executions))
	}

	// The predecessor's frontend, unchanged, against the same stack.
	t.Run("old frontend", func(t *testing.T) { oldFrontendJourney(t, srv.url, c.token, other.token) })

	// Delete the conversation: gone, with its messages; a second delete is a 404.
	other.json("DELETE", "/api/v1/conversations/"+conv, nil, 404, nil)
	c.json("DELETE", "/api/v1/conversations/"+conv, nil, 200, nil)
	c.json("GET", "/api/v1/conversations/"+conv, nil, 404, &p)
	if p.Code != "not_found" {
		t.Errorf("deleted conversation: code %q", p.Code)
	}
	c.json("GET", "/api/v1/conversations/"+conv+"/messages", nil, 404, nil)
	c.json("DELETE", "/api/v1/conversations/"+conv, nil, 404, nil)

	// The CLI client against the same server: one turn, then a REPL that keeps
	// its conversation.
	out, err := exec.Command(bin, "chat", "--url", srv.url, "--dev-dir", srv.dir, "--user", "journey", "hello there").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "You said: hello there.") || !strings.Contains(string(out), "tokens") {
		t.Errorf("chatter chat: %v\n%s", err, out)
	}
	repl := exec.Command(bin, "chat", "--url", srv.url, "--dev-dir", srv.dir)
	repl.Stdin = strings.NewReader("first\n/tool calculator {\"expression\":\"1+1\"}\n")
	var replErr bytes.Buffer
	repl.Stderr = &replErr
	replOut, err := repl.Output()
	if err != nil {
		t.Fatalf("chat REPL: %v\n%s", err, replErr.String())
	}
	ids := regexp.MustCompile(`conversation (\w+),`).FindAllStringSubmatch(replErr.String(), -1)
	if len(ids) != 2 || ids[0][1] != ids[1][1] || !strings.Contains(replErr.String(), "[tool call calculator") ||
		!strings.Contains(string(replOut), "returned: 2.") {
		t.Errorf("REPL did not keep its conversation or show the tool call:\n%s\n%s", replOut, replErr.String())
	}

	// Browsers: a page on a local dev server may call the stack. Its preflight
	// carries no token and is answered 204; the real answers (a 401 problem, an
	// event stream) carry the CORS headers; a page elsewhere gets none.
	const page = "http://localhost:5173"
	status, b, h := anon.do("OPTIONS", "/api/v1/workflows/execute/chat/streaming", nil, "Origin", page,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if status != 204 || len(b) != 0 || h.Get("Access-Control-Allow-Origin") != page ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight without a token: %d %q %v", status, b, h)
	}
	if status, _, h := anon.do("GET", "/api/v1/executions", nil, "Origin", page); status != 401 ||
		h.Get("Access-Control-Allow-Origin") != page {
		t.Errorf("401 to a local page: %d %v", status, h)
	}
	status, b, h = c.do("POST", "/api/v1/workflows/execute/chat/streaming", map[string]any{"message": "from a page"},
		"Origin", page, "Accept", "text/event-stream")
	if status != 200 || h.Get("Content-Type") != "text/event-stream" || h.Get("Access-Control-Allow-Origin") != page ||
		!strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("stream to a local page: %d %v\n%s", status, h, b)
	}
	if _, _, h := anon.do("OPTIONS", "/api/v1/executions", nil, "Origin", "https://elsewhere.example",
		"Access-Control-Request-Method", "GET"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a page elsewhere is allowed: %v", h)
	}

	// A second server on the same port says so and starts nothing.
	port := srv.url[strings.LastIndex(srv.url, ":")+1:]
	second := exec.Command(bin, "dev", "--port", port, "--dev-dir", srv.dir)
	second.Env = devEnvForTest("journey-second")
	msg, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(msg), "port "+port+" on 127.0.0.1 is already taken") {
		t.Errorf("second chatter dev on a taken port: %v\n%s", err, msg)
	}

	// Ctrl-C (SIGTERM here) stops everything it started.
	srv.stop(t)
	if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("chatter dev exit %d after SIGTERM:\n%s", code, srv.stderr)
	}
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		return // LocalStack: nothing of ours to stop
	}
	m := regexp.MustCompile(`moto_server pid (\d+) ended`).FindStringSubmatch(srv.stderr.String())
	if m == nil {
		t.Fatalf("no word of moto stopping:\n%s", srv.stderr)
	}
	var pid int
	fmt.Sscan(m[1], &pid)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("moto_server %d still runs after chatter dev stopped", pid)
	}
}

func mustToken(t *testing.T, dir, user string) string {
	t.Helper()
	id, err := devstack.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := id.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitDefinition is start -> a 20 s delay -> the model -> END: a run that is
// still going when a second client cancels it.
const waitDefinition = `{
  "name": "journey wait",
  "nodes": [
    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {"label": "Start"}},
    {"id": "wait", "type": "delay", "position": {"x": 200, "y": 0}, "data": {"label": "Wait", "config": {"type": "fixed", "duration_ms": 20000}}},
    {"id": "agent", "type": "llm", "position": {"x": 400, "y": 0}, "data": {"label": "Agent"}}
  ],
  "edges": [
    {"id": "e1", "source": "start", "target": "wait"},
    {"id": "e2", "source": "wait", "target": "agent"},
    {"id": "e3", "source": "agent", "target": "END"}
  ]
}`

// TestJourney_CancelFromASecondClient: against chatter dev, a standard and a
// streaming run of a slow workflow are cancelled by another client's POST
// /executions/{id}/cancel; each first client gets its run back cancelled (499, or
// an error frame then [DONE]) well before the workflow would have ended, the
// record says who cancelled, and a second cancel is a 409.
func TestJourney_CancelFromASecondClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chatter dev and moto")
	}
	bin := buildCLI(t)
	srv := startDev(t, bin)
	c := call{t: t, base: srv.url, token: mustToken(t, srv.dir, "journey-cancel")}
	other := call{t: t, base: srv.url, token: mustToken(t, srv.dir, "someone-else")}
	var def struct {
		ID string `json:"id"`
	}
	c.json("POST", "/api/v1/workflows/definitions", json.RawMessage(waitDefinition), 200, &def)

	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "standard", true: "streaming"}[stream]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			path := "/api/v1/workflows/definitions/" + def.ID + "/execute"
			if stream {
				path += "?stream=true"
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.url+path, strings.NewReader(`{"message":"take your time"}`))
			req.Header.Set("Authorization", "Bearer "+c.token)
			req.Header.Set("Content-Type", "application/json")
			type answer struct {
				status int
				body   string
				err    error
			}
			first := make(chan answer, 1)
			started := time.Now()
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					first <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				first <- answer{resp.StatusCode, string(b), err}
			}()
			// The second client finds the running execution and cancels it.
			var id string
			for id == "" && ctx.Err() == nil {
				var list struct {
					Executions []struct {
						ID string `json:"id"`
					} `json:"executions"`
				}
				c.json("GET", "/api/v1/executions?status=running", nil, 200, &list)
				if len(list.Executions) > 0 {
					id = list.Executions[0].ID
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
			other.json("POST", "/api/v1/executions/"+id+"/cancel", nil, 404, nil)
			var marked struct {
				CancelRequested bool   `json:"cancel_requested"`
				CancelledBy     string `json:"cancelled_by"`
			}
			c.json("POST", "/api/v1/executions/"+id+"/cancel", nil, 202, &marked)
			if !marked.CancelRequested || marked.CancelledBy != "journey-cancel" {
				t.Errorf("cancel answer %+v", marked)
			}
			var a answer
			select {
			case a = <-first:
			case <-ctx.Done():
				t.Fatal("the cancelled run did not answer")
			}
			if a.err != nil {
				t.Fatalf("the first client: %v", a.err)
			}
			if took := time.Since(started); took > 15*time.Second {
				t.Errorf("the cancelled run answered after %s; its delay alone is 20 s", took)
			}
			if stream {
				if a.status != 200 || !strings.Contains(a.body, `"code":"cancelled"`) || !strings.Contains(a.body, "[DONE]") {
					t.Errorf("stream: %d %s; want an error frame with code cancelled, then [DONE]", a.status, a.body)
				}
			} else if a.status != 499 || !strings.Contains(a.body, `"cancelled"`) {
				t.Errorf("standard: %d %s; want 499 cancelled", a.status, a.body)
			}
			var rec struct {
				Status      string `json:"status"`
				CancelledBy string `json:"cancelled_by"`
			}
			c.json("GET", "/api/v1/executions/"+id, nil, 200, &rec)
			if rec.Status != "cancelled" || rec.CancelledBy != "journey-cancel" {
				t.Errorf("record %+v; want cancelled by journey-cancel", rec)
			}
			c.json("POST", "/api/v1/executions/"+id+"/cancel", nil, 409, nil)
		})
	}
}

// humanDefinition is start -> a person writes the brief (text, as a message) ->
// the model -> a person approves or rejects -> END.
const humanDefinition = `{
  "name": "journey human",
  "nodes": [
    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {"label": "Start"}},
    {"id": "brief", "type": "human", "position": {"x": 200, "y": 0}, "data": {"label": "Brief",
      "config": {"prompt": "What should the note say?", "input": "text", "variable": "brief", "as_message": true, "timeout": 600}}},
    {"id": "agent", "type": "llm", "position": {"x": 400, "y": 0}, "data": {"label": "Agent"}},
    {"id": "check", "type": "human", "position": {"x": 600, "y": 0}, "data": {"label": "Check", "config": {"prompt": "Send it?"}}}
  ],
  "edges": [
    {"id": "e1", "source": "start", "target": "brief"},
    {"id": "e2", "source": "brief", "target": "agent"},
    {"id": "e3", "source": "agent", "target": "check"},
    {"id": "e4", "source": "check", "target": "END", "sourceHandle": "approve"},
    {"id": "e5", "source": "check", "target": "END", "sourceHandle": "reject"}
  ]
}`

// TestJourney_APersonInTheLoop: against chatter dev (moto), a run of a definition
// with two human nodes waits for a person twice: each invocation ends waiting
// (listed under ?status=waiting, with the prompt), a resume with bad input is a
// 422 and another user's a 404; the person's text reaches the model (streaming
// resume, frame ids continued), the approval ends the run completed with one
// reply stored; resuming again is a 409. A second run is cancelled while it waits.
func TestJourney_APersonInTheLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chatter dev and moto")
	}
	bin := buildCLI(t)
	srv := startDev(t, bin)
	c := call{t: t, base: srv.url, token: mustToken(t, srv.dir, "journey-human")}
	other := call{t: t, base: srv.url, token: mustToken(t, srv.dir, "someone-else")}
	var def struct {
		ID string `json:"id"`
	}
	c.json("POST", "/api/v1/workflows/definitions", json.RawMessage(humanDefinition), 200, &def)
	type waitingResp struct {
		ExecutionID    string `json:"execution_id"`
		ConversationID string `json:"conversation_id"`
		Status         string `json:"status"`
		Response       string `json:"response"`
		Waiting        *struct {
			NodeID string `json:"node_id"`
		} `json:"waiting"`
	}
	var first struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Waiting *struct {
			NodeID string `json:"node_id"`
			Prompt string `json:"prompt"`
			Input  string `json:"input"`
			Resume string `json:"resume"`
		} `json:"waiting"`
	}
	c.json("POST", "/api/v1/workflows/definitions/"+def.ID+"/execute", map[string]any{"message": "a note for the team"}, 200, &first)
	if first.Status != "waiting" || first.Waiting == nil || first.Waiting.NodeID != "brief" || first.Waiting.Input != "text" ||
		first.Waiting.Resume != "/api/v1/executions/"+first.ID+"/resume" {
		t.Fatalf("first invocation: %+v", first)
	}
	var listed struct {
		Executions []struct {
			ID string `json:"id"`
		} `json:"executions"`
	}
	c.json("GET", "/api/v1/executions?status=waiting", nil, 200, &listed)
	if len(listed.Executions) != 1 || listed.Executions[0].ID != first.ID {
		t.Fatalf("waiting executions %+v", listed.Executions)
	}
	resume := first.Waiting.Resume
	other.json("POST", resume, map[string]any{"text": "steal it"}, 404, nil)
	c.json("POST", resume, map[string]any{"action": "approve"}, 422, nil)

	// The brief, streaming: the model answers with it.
	status, body, _ := c.do("POST", resume+"?stream=true", map[string]any{"text": "lunch is at noon"})
	if status != 200 || !strings.Contains(string(body), `"type":"waiting"`) || !strings.Contains(string(body), "lunch is at noon") {
		t.Fatalf("streaming resume: %d %s", status, body)
	}
	ids := frameIDs(body)
	if len(ids) == 0 || ids[0] <= 1 {
		t.Fatalf("the resumed stream's frame ids %v do not continue the first invocation's", ids)
	}
	var second waitingResp
	c.json("GET", "/api/v1/executions/"+first.ID, nil, 200, &second)
	if second.Status != "waiting" || second.Waiting == nil || second.Waiting.NodeID != "check" {
		t.Fatalf("after the brief: %+v", second)
	}
	var done waitingResp
	c.json("POST", resume, map[string]any{"action": "approve"}, 200, &done)
	if done.Status != "completed" || done.ExecutionID != first.ID || !strings.Contains(done.Response, "lunch is at noon") || done.Waiting != nil {
		t.Fatalf("approved: %+v", done)
	}
	var msgs []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	c.json("GET", "/api/v1/conversations/"+done.ConversationID+"/messages", nil, 200, &msgs)
	if len(msgs) != 2 || msgs[1].Role != "assistant" || !strings.Contains(msgs[1].Content, "lunch is at noon") {
		t.Fatalf("the conversation holds %+v", msgs)
	}
	c.json("POST", resume, map[string]any{"action": "approve"}, 409, nil)

	// Its event log, through the bus and the record subscriber: one sequence across
	// the three invocations, each pause and resume in it.
	var evs list[struct {
		Seq  int    `json:"seq"`
		Type string `json:"type"`
	}]
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.json("GET", "/api/v1/executions/"+first.ID+"/events?limit=100", nil, 200, &evs)
		if n := len(evs.Items); n > 0 && evs.Items[n-1].Type == "execution_completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events did not land within 20s: %+v", evs.Items)
		}
	}
	counts := map[string]int{}
	for i, e := range evs.Items {
		counts[e.Type]++
		if e.Seq != i+1 {
			t.Fatalf("event %d (%s) has seq %d: the sequence does not continue across invocations: %+v", i, e.Type, e.Seq, evs.Items)
		}
	}
	if counts["execution_waiting"] != 2 || counts["execution_resumed"] != 2 || counts["execution_started"] != 1 {
		t.Errorf("event counts %v", counts)
	}

	// A run cancelled while it waits cannot be resumed, and the next sweep ends it
	// cancelled.
	var waiting struct {
		ID string `json:"id"`
	}
	c.json("POST", "/api/v1/workflows/definitions/"+def.ID+"/execute", map[string]any{"message": "another note"}, 200, &waiting)
	var cancelled struct {
		Status          string `json:"status"`
		CancelRequested bool   `json:"cancel_requested"`
		CancelledBy     string `json:"cancelled_by"`
	}
	c.json("POST", "/api/v1/executions/"+waiting.ID+"/cancel", nil, 202, &cancelled)
	if !cancelled.CancelRequested || cancelled.CancelledBy != "journey-human" {
		t.Fatalf("cancel while waiting: %+v", cancelled)
	}
	c.json("POST", "/api/v1/executions/"+waiting.ID+"/resume", map[string]any{"text": "too late"}, 409, nil)
	for deadline := time.Now().Add(3 * devstack.SweepPeriod); cancelled.Status != "cancelled"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled waiting run is %+v after three sweep periods", cancelled)
		}
		c.json("GET", "/api/v1/executions/"+waiting.ID, nil, 200, &cancelled)
	}
	if cancelled.CancelledBy != "journey-human" {
		t.Errorf("ended %+v", cancelled)
	}
}

// frameIDs lists the SSE ids of a stream body.
func frameIDs(b []byte) []int {
	var out []int
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
