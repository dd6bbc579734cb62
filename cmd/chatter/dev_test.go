package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/testenv"
	"github.com/chatterhq/chatter/internal/wire"
)

func TestDev_SecondStackOnSameFolderIsRefusedBeforeStarting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	holder := exec.Command("sleep", "30") // stands in for the running chatter dev
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	pid := strconv.Itoa(holder.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "dev.lock"), []byte(pid+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dev(ctx, []string{"--port", "0", "--dev-dir", dir}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, &stderr)
	}
	msg := stderr.String()
	for _, want := range []string{"another chatter dev (pid " + pid + ")", dir, "--dev-dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "moto.log")); err == nil {
		t.Errorf("the refused stack opened moto.log")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dev.lock")); strings.TrimSpace(string(b)) != pid {
		t.Errorf("the refused stack touched the holder's lock: %q", b)
	}
}

func TestOpenLog_AppendsAcrossRestartsAndConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var a, b stack
	defer a.Close()
	defer b.Close()
	wa, err := a.openLog(dir, "events.log")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(wa, "first run line")
	wb, err := b.openLog(dir, "events.log") // a restart: must not truncate
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(wb, "second run line")
	fmt.Fprintln(wa, "first run later line") // lands at the end, not over the second
	got, err := os.ReadFile(filepath.Join(dir, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := "first run line\nsecond run line\nfirst run later line\n"
	if string(got) != want {
		t.Fatalf("events.log = %q, want %q", got, want)
	}
}

// devStackForTest starts the stack in-process on a free port against the test
// AWS endpoint, with its own table and bus.
func devStackForTest(t *testing.T, ctx context.Context) *stack {
	t.Helper()
	name := fmt.Sprintf("chatter-devtest-%d", time.Now().UnixNano())
	env := map[string]string{"AWS_ENDPOINT_URL": testenv.Endpoint(t), "CHATTER_BEDROCK": "off",
		"CHATTER_DEVLLM": "on", "CHATTER_DEFAULT_PROVIDER": "devllm", "CHATTER_TABLE": name, "CHATTER_EVENT_BUS": name,
		"CHATTER_DOCUMENTS_BUCKET": name + "-docs"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := startStack(ctx, stackOptions{Listener: ln, Dir: t.TempDir(), Getenv: func(k string) string { return env[k] },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := waitReady(ctx, s.URL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDevStack_OpenAPIServersNameItsOwnURLAndChatDiscoversIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := devStackForTest(t, ctx)

	resp, err := http.Get(s.URL + "/api/v1/openapi.json") // no token
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
		Paths   map[string]map[string]struct {
			Servers []struct {
				URL       string
				Variables map[string]struct{ Default string }
			} `json:"servers"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET openapi.json: %d %v", resp.StatusCode, err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("document servers %+v, want the HTTP API (relative)", doc.Servers)
	}
	op := doc.Paths[streamPath]["post"]
	if len(op.Servers) == 0 || op.Servers[0].URL != "{streamUrl}" || op.Servers[0].Variables["streamUrl"].Default != s.URL {
		t.Errorf("streaming operation servers %+v, want {streamUrl} defaulting to the dev stack's %s", op.Servers, s.URL)
	}

	tok, err := s.Identity.Token("discover")
	if err != nil {
		t.Fatal(err)
	}
	c := &chatClient{base: s.URL, token: tok, http: &http.Client{}}
	got, err := discoverStreamURL(ctx, c)
	if err != nil || got != s.URL {
		t.Fatalf("discovered %q, %v; want %s", got, err, s.URL)
	}
	c.streamBase = got
	turn, err := c.stream(ctx, wire.ChatRequest{Message: "hello"}, nil)
	if err != nil || !turn.Done || turn.ExecutionID == "" {
		t.Fatalf("stream on the discovered host: %+v, %v", turn, err)
	}
}

func TestChat_StreamsToTheFunctionURLTheDocumentNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var streamed atomic.Int32
	fnURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != streamPath || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unexpected "+r.URL.Path, http.StatusNotFound)
			return
		}
		streamed.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\nevent: start\ndata: {\"type\":\"start\",\"execution_id\":\"x1\",\"conversation_id\":\"c1\"}\n\n"+
			"id: 2\nevent: token\ndata: {\"type\":\"token\",\"content\":\"hi from the function url\"}\n\ndata: [DONE]\n\n")
	}))
	defer fnURL.Close()
	api := httptest.NewServer(resources.OpenAPI(fnURL.URL + "/")) // serves the document on every path; streams nowhere
	defer api.Close()

	for name, args := range map[string][]string{
		"discovered": {"chat", "--url", api.URL, "--token", "tok", "hello"},
		"flag":       {"chat", "--url", api.URL, "--stream-url", fnURL.URL, "--token", "tok", "hello"},
	} {
		before := streamed.Load()
		var stdout, stderr bytes.Buffer
		if code := chatCmd(ctx, args[1:], strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, &stderr)
		}
		if streamed.Load() != before+1 || !strings.Contains(stdout.String(), "hi from the function url") {
			t.Errorf("%s: the stream did not go to the Function URL: %q %q", name, &stdout, &stderr)
		}
	}
}

func TestDev_LogFormat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var buf bytes.Buffer
	lg, err := devLogger("json", &buf, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	lg.With("request_id", "r1").Info("request", "status", 200)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["request_id"] != "r1" || line["msg"] != "request" {
		t.Fatalf("json log line %q: %v", &buf, err)
	}
	buf.Reset()
	lg, _ = devLogger("text", &buf, slog.LevelInfo)
	lg.Info("request", "request_id", "r1")
	if !strings.Contains(buf.String(), "msg=request request_id=r1") {
		t.Errorf("text log line %q", &buf)
	}
	var stderr bytes.Buffer
	if code := dev(ctx, []string{"--log-format", "yaml", "--dev-dir", t.TempDir()}, io.Discard, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "--log-format") {
		t.Errorf("--log-format yaml: exit %d, %q", code, &stderr)
	}
}
