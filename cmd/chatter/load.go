package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/wire"
)

// loadOptions configure a load run.
type loadOptions struct {
	Executions int
	Users      int
	// Conversations the executions are spread over (round robin over the users);
	// executions that share one are sent at once and race on its version.
	Conversations int
	Timeout       time.Duration // whole run, including the wait for records
}

// sample is one measured execution.
type sample struct {
	User      int
	Conv      int
	Streaming bool
	Message   string
	Latency   time.Duration
	Resp      *wire.ChatResponse
	Err       error
}

// loadReport is what a run found.
type loadReport struct {
	Executions, Streaming, Errors int
	P50, P95, P99, Max            time.Duration
	Wall                          time.Duration
	RecordsCompleted              int // of this run's executions, after the events landed
	MessagesChecked               int
	Lost                          []string // every missing or wrong record, message or aggregate
}

func (r loadReport) ok() bool { return r.Errors == 0 && len(r.Lost) == 0 }

func (r loadReport) print(w io.Writer) {
	fmt.Fprintf(w, "executions %d (%d streaming) in %s: %.1f/s\n", r.Executions, r.Streaming, r.Wall.Round(time.Millisecond),
		float64(r.Executions)/r.Wall.Seconds())
	fmt.Fprintf(w, "latency p50 %s  p95 %s  p99 %s  max %s\n", r.P50.Round(time.Millisecond), r.P95.Round(time.Millisecond),
		r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond))
	fmt.Fprintf(w, "errors %d\n", r.Errors)
	fmt.Fprintf(w, "execution records completed %d/%d; messages checked %d; lost or wrong %d\n",
		r.RecordsCompleted, r.Executions, r.MessagesChecked, len(r.Lost))
	for i, l := range r.Lost {
		if i == 20 {
			fmt.Fprintf(w, "  ... and %d more\n", len(r.Lost)-20)
			break
		}
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// runLoad seeds one conversation per user, then sends o.Executions chats at once
// (every other one streaming) spread over the users' conversations, and checks
// through the API that every execution record completed and every message and
// aggregate is exactly what the answers said. tokens[i] is user i's token.
func runLoad(ctx context.Context, base string, tokens []string, o loadOptions, progress io.Writer) (loadReport, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Executions}}
	clients := make([]*chatClient, len(tokens))
	for i, t := range tokens {
		clients[i] = &chatClient{base: base, token: t, http: client}
	}
	// Seed: every conversation exists before the burst, so the burst's sends race
	// on existing conversations (optimistic concurrency under load).
	convs := make([]string, o.Conversations)
	seeds := make([]sample, o.Conversations)
	for i := range convs {
		u := i % len(clients)
		msg := fmt.Sprintf("seed conversation %d", i)
		r, err := clients[u].standard(ctx, wire.ChatRequest{Message: msg})
		if err != nil {
			return loadReport{}, fmt.Errorf("seeding conversation %d: %w", i, err)
		}
		convs[i], seeds[i] = r.ConversationID, sample{User: u, Conv: i, Message: msg, Resp: r}
	}
	fmt.Fprintf(progress, "seeded %d conversations of %d users; sending %d executions at once\n", len(convs), len(clients), o.Executions)

	samples := make([]sample, o.Executions)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range samples {
		s := &samples[i]
		s.Conv, s.Streaming = i%len(convs), i%2 == 1
		s.User = s.Conv % len(clients)
		s.Message = fmt.Sprintf("load message %d", i)
		wg.Go(func() {
			<-start
			body := wire.ChatRequest{Message: s.Message, ConversationID: convs[s.Conv]}
			t0 := time.Now()
			if s.Streaming {
				var t *turn
				t, s.Err = clients[s.User].stream(ctx, body, nil)
				if s.Err == nil {
					switch {
					case t.Err != nil:
						s.Err = fmt.Errorf("error frame %s: %s", t.Err.Code, t.Err.Message)
					case !t.Done || t.Response == nil:
						s.Err = fmt.Errorf("stream ended early (frames %v)", t.Frames)
					default:
						s.Resp = t.Response
						if t.Text != t.Response.Response {
							s.Err = fmt.Errorf("streamed text %q differs from the complete frame's %q", t.Text, t.Response.Response)
						}
					}
				}
			} else {
				s.Resp, s.Err = clients[s.User].standard(ctx, body)
			}
			s.Latency = time.Since(t0)
			if s.Err == nil && s.Resp.Status != "completed" {
				s.Err = fmt.Errorf("status %s", s.Resp.Status)
			}
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	rep := loadReport{Executions: o.Executions, Wall: time.Since(t0)}
	lat := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		if s.Streaming {
			rep.Streaming++
		}
		if s.Err != nil {
			rep.Errors++
			rep.Lost = append(rep.Lost, fmt.Sprintf("execution %q (user %d): %v", s.Message, s.User, s.Err))
			continue
		}
		lat = append(lat, s.Latency)
	}
	slices.Sort(lat)
	rep.P50, rep.P95, rep.P99 = percentile(lat, .50), percentile(lat, .95), percentile(lat, .99)
	if len(lat) > 0 {
		rep.Max = lat[len(lat)-1]
	}
	fmt.Fprintf(progress, "burst done in %s; waiting for the execution records\n", rep.Wall.Round(time.Millisecond))
	verify(ctx, clients, convs, seeds, samples, &rep)
	return rep, nil
}

// verify checks the stored state against what the answers said: every execution
// record completed with the answer's output and usage, every message stored once
// and gap-free, every conversation's aggregates exact.
func verify(ctx context.Context, clients []*chatClient, convs []string, seeds []sample, samples []sample, rep *loadReport) {
	lost := func(format string, args ...any) { rep.Lost = append(rep.Lost, fmt.Sprintf(format, args...)) }
	byConv := make([][]sample, len(convs))
	for _, s := range seeds {
		byConv[s.Conv] = append(byConv[s.Conv], s)
	}
	for _, s := range samples {
		if s.Err == nil {
			byConv[s.Conv] = append(byConv[s.Conv], s)
		}
	}
	byUser := make([][]sample, len(clients))
	for _, ss := range byConv {
		for _, s := range ss {
			byUser[s.User] = append(byUser[s.User], s)
		}
	}

	// Execution records: completed once their events land.
	for u, c := range clients {
		want := byUser[u]
		var execs map[string]wire.Execution
		for {
			var err error
			execs, err = listAll[wire.Execution](ctx, c, "/api/v1/executions", "executions", func(e wire.Execution) string { return e.ExecutionID })
			if err != nil {
				lost("user %d: listing executions: %v", u, err)
				break
			}
			if allCompleted(execs, want) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, s := range want {
			e, ok := execs[s.Resp.ExecutionID]
			switch {
			case !ok:
				lost("user %d: execution %s has no record", u, s.Resp.ExecutionID)
			case e.Status != "completed":
				lost("user %d: execution %s is %s", u, e.ExecutionID, e.Status)
			case e.Usage == nil || e.OutputData == nil || e.Usage.TotalTokens != s.Resp.TokensUsed || e.OutputData.Response != s.Resp.Response:
				lost("user %d: execution %s record differs from its answer", u, e.ExecutionID)
			case !strings.HasPrefix(s.Message, "seed "):
				rep.RecordsCompleted++
			}
		}
	}

	for ci, conv := range convs {
		want := byConv[ci]
		c := clients[ci%len(clients)]
		// Messages: every user message and every reply, once, gap-free.
		msgs, err := listAll[messageRecord](ctx, c, "/api/v1/conversations/"+conv+"/messages", "", func(m messageRecord) string { return m.ID })
		if err != nil {
			lost("conversation %d: listing messages: %v", ci, err)
			continue
		}
		ordered := make([]messageRecord, 0, len(msgs))
		for _, m := range msgs {
			ordered = append(ordered, m)
		}
		sort.Slice(ordered, func(i, j int) bool { return ordered[i].Seq < ordered[j].Seq })
		for i, m := range ordered {
			if m.Seq != i+1 {
				lost("conversation %d: message seq %d at position %d (gap or duplicate)", ci, m.Seq, i+1)
				break
			}
		}
		userTexts := map[string]int{}
		replies := map[string]messageRecord{}
		for _, m := range ordered {
			rep.MessagesChecked++
			if m.Role == "user" {
				userTexts[m.Content]++
			} else {
				replies[m.ExecutionID] = m
			}
		}
		tokens, cost := 0, 0.0
		for _, s := range want {
			if userTexts[s.Message] != 1 {
				lost("conversation %d: user message %q stored %d times", ci, s.Message, userTexts[s.Message])
			}
			r, ok := replies[s.Resp.ExecutionID]
			if !ok || r.Content != s.Resp.Response || r.Status != "complete" {
				lost("conversation %d: reply of execution %s missing or different", ci, s.Resp.ExecutionID)
			}
			tokens += s.Resp.TokensUsed
			cost += s.Resp.Cost
		}
		if len(ordered) != 2*len(want) {
			lost("conversation %d: %d messages stored, want %d", ci, len(ordered), 2*len(want))
		}

		// Aggregates: exact.
		var agg struct {
			MessageCount int     `json:"message_count"`
			TotalTokens  int     `json:"total_tokens"`
			TotalCost    float64 `json:"total_cost"`
		}
		if err := getJSON(ctx, c, "/api/v1/conversations/"+conv, &agg); err != nil {
			lost("conversation %d: reading it: %v", ci, err)
			continue
		}
		if agg.MessageCount != 2*len(want) || agg.TotalTokens != tokens || !closeTo(agg.TotalCost, cost) {
			lost("conversation %d: aggregates messages %d tokens %d cost %g, want %d %d %g", ci,
				agg.MessageCount, agg.TotalTokens, agg.TotalCost, 2*len(want), tokens, cost)
		}
	}
}

func closeTo(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

func allCompleted(execs map[string]wire.Execution, want []sample) bool {
	for _, s := range want {
		if e, ok := execs[s.Resp.ExecutionID]; !ok || e.Status != "completed" {
			return false
		}
	}
	return true
}

type messageRecord struct {
	ID          string `json:"id"`
	ExecutionID string `json:"execution_id"`
	Seq         int    `json:"seq"`
	Role        string `json:"role"`
	Content     string `json:"content"`
	Status      string `json:"status"`
}

func getJSON(ctx context.Context, c *chatClient, path string, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// listAll follows a list's cursors, keyed by id (a repeated item would be a
// pagination bug, and is reported as one). A page is an object holding the items
// under key and next_cursor, or, when key is "", a bare array whose Link header
// names the next page (the predecessor's shape of message lists).
func listAll[T any](ctx context.Context, c *chatClient, path, key string, id func(T) string) (map[string]T, error) {
	out := map[string]T{}
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		items, next, err := getPage[T](ctx, c, path+"?"+q.Encode(), key)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if _, dup := out[id(it)]; dup {
				return nil, fmt.Errorf("%s listed %s twice", path, id(it))
			}
			out[id(it)] = it
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// getPage reads one page of a list (see listAll).
func getPage[T any](ctx context.Context, c *chatClient, path, key string) (items []T, next string, err error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil, "application/json")
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if key == "" {
		if link, ok := strings.CutSuffix(resp.Header.Get("Link"), `>; rel="next"`); ok {
			u, err := url.Parse(strings.TrimPrefix(link, "<"))
			if err != nil {
				return nil, "", fmt.Errorf("%s: Link %q: %w", path, link, err)
			}
			next = u.Query().Get("cursor")
		}
		return items, next, json.NewDecoder(resp.Body).Decode(&items)
	}
	var page map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, "", err
	}
	if err := json.Unmarshal(page[key], &items); err != nil {
		return nil, "", fmt.Errorf("%s: %s: %w", path, key, err)
	}
	if raw, ok := page["next_cursor"]; ok {
		err = json.Unmarshal(raw, &next)
	}
	return items, next, err
}

// load is `chatter load`: a dev stack of its own (moto, or AWS_ENDPOINT_URL) with
// devllm, the burst, the report. Exit 1 on any error or loss.
func load(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := loadOptions{}
	fs.IntVar(&o.Executions, "executions", 100, "concurrent workflow executions (every other one streaming)")
	fs.IntVar(&o.Users, "users", 10, "users the conversations belong to")
	fs.IntVar(&o.Conversations, "conversations", 50, "conversations the executions are spread over (sends to one race on it)")
	fs.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Executions < 1 || o.Users < 1 || o.Conversations < 1 {
		fmt.Fprintln(stderr, "--executions, --users and --conversations must be positive")
		return 2
	}
	dir, err := os.MkdirTemp("", "chatter-load-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	name := fmt.Sprintf("chatter-load-%d", time.Now().Unix())
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slog.SetDefault(logger)
	s, err := startStack(ctx, stackOptions{Listener: ln, Dir: dir, Getenv: loadEnv(os.Getenv, name), Logger: logger})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "chatter load: %v\n", err)
		return 1
	}
	defer s.Close()
	fmt.Fprintf(stdout, "chatter load: dev stack on %s (AWS %s), devllm, %d executions over %d conversations of %d users\n",
		s.URL, s.Endpoint, o.Executions, o.Conversations, o.Users)
	tokens := make([]string, o.Users)
	for i := range tokens {
		if tokens[i], err = s.Identity.Token(fmt.Sprintf("load-user-%d", i)); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	rep, err := runLoad(ctx, s.URL, tokens, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "chatter load: %v\n", err)
		return 1
	}
	rep.print(stdout)
	if !rep.ok() {
		fmt.Fprintln(stdout, "FAIL")
		return 1
	}
	fmt.Fprintln(stdout, "PASS: 0 errors, nothing lost")
	return 0
}

// loadEnv is the environment of the load test's stack: devllm only, its own table
// and bus, and rate limits that a burst of one user's sends cannot trip.
func loadEnv(getenv func(string) string, name string) func(string) string {
	set := map[string]string{"CHATTER_DEVLLM": "on", "CHATTER_DEFAULT_PROVIDER": "devllm", "CHATTER_BEDROCK": "off",
		"CHATTER_TABLE": name, "CHATTER_EVENT_BUS": name}
	return func(k string) string {
		if v, ok := set[k]; ok {
			return v
		}
		if strings.HasPrefix(k, "OPENAI_") || strings.HasPrefix(k, "ANTHROPIC_") {
			return ""
		}
		return getenv(k)
	}
}
