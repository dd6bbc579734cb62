package main

import (
	"math"
	"strings"
	"testing"
)

// A round of `go test -bench` output as the two test binaries print it.
const chatterRound = `goos: linux
goarch: amd64
pkg: github.com/chatterhq/chatter/internal/executor
cpu: Intel(R) Xeon(R) Processor
BenchmarkExecute/general_chat-2         	   41234	     27012 ns/op	   12003 B/op	     116 allocs/op
BenchmarkExecute/tool_loop-2            	   21234	     53012 ns/op	   22003 B/op	     207 allocs/op
BenchmarkEngine/general_chat-2          	  121234	      9100 ns/op	    8003 B/op	      95 allocs/op
BenchmarkEngine/tool_loop-2             	   61234	     17500 ns/op	   15003 B/op	     170 allocs/op
PASS
`

const einoRound = `goos: linux
pkg: peers/einobench
BenchmarkEinoChatInvoke 	  192763	      6500 ns/op	    7688 B/op	      82 allocs/op
BenchmarkEinoToolLoop   	   76240	     14000 ns/op	   16372 B/op	     187 allocs/op
PASS
`

func TestParseBench_ReadsEachBenchmarkWithoutTheProcsSuffix(t *testing.T) {
	got := parseBench(chatterRound + einoRound)
	want := map[string]benchResult{
		"BenchmarkExecute/general_chat": {27012, 12003, 116},
		"BenchmarkExecute/tool_loop":    {53012, 22003, 207},
		"BenchmarkEngine/general_chat":  {9100, 8003, 95},
		"BenchmarkEngine/tool_loop":     {17500, 15003, 170},
		"BenchmarkEinoChatInvoke":       {6500, 7688, 82},
		"BenchmarkEinoToolLoop":         {14000, 16372, 187},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d benchmarks, want %d: %v", len(got), len(want), got)
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %+v, want %+v", n, got[n], w)
		}
	}
}

func TestBenchPattern_SelectsTheNamedBenchmarks(t *testing.T) {
	got := benchPattern([]string{"BenchmarkEngine/general_chat", "BenchmarkExecute/general_chat", "BenchmarkEngine/tool_loop"})
	if want := "^(BenchmarkEngine|BenchmarkExecute)$/^(general_chat|tool_loop)$"; got != want {
		t.Errorf("pattern %q, want %q", got, want)
	}
	if got := benchPattern([]string{"BenchmarkEinoChatInvoke"}); got != "^(BenchmarkEinoChatInvoke)$" {
		t.Errorf("pattern %q", got)
	}
}

func TestMedianRatio_IsTheMedianOfPerRoundRatios(t *testing.T) {
	// Round 2 ran on a slow machine for both: its ratio is still 1.5.
	num := []float64{3, 30, 4, 2.4}
	den := []float64{2, 20, 2, 2}
	if got := medianRatio(num, den); got != 1.5 {
		t.Errorf("median ratio %v, want 1.5 (ratios 1.5, 1.5, 2, 1.2)", got)
	}
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median %v, want 3", got)
	}
	if got := median(nil); got != 0 {
		t.Errorf("median of none %v", got)
	}
}

func TestBenchRows_RatiosAndGoals(t *testing.T) {
	ns := map[string][]float64{}
	allocs := map[string][]float64{}
	for range 3 {
		for n, r := range parseBench(chatterRound + einoRound) {
			ns[n] = append(ns[n], r.nsPerOp)
			allocs[n] = append(allocs[n], r.allocsPerOp)
		}
	}
	instr := map[string]float64{"BenchmarkEngine/general_chat": 30e3, "BenchmarkEinoChatInvoke": 74e3,
		"BenchmarkEngine/tool_loop": 190e3, "BenchmarkEinoToolLoop": 168e3}
	rows := benchRows(ns, allocs, instr)
	// Engine chat: time and instructions; Execute: time only (no count); tool loop: both.
	if len(rows) != 5 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	checks := []struct {
		ratio float64
		met   bool
	}{{9100.0 / 6500, false}, {30.0 / 74, true}, {27012.0 / 6500, false}, {17500.0 / 14000, false}, {190.0 / 168, false}}
	for i, c := range checks {
		if math.Abs(rows[i].ratio-c.ratio) > 1e-9 || rows[i].met != c.met {
			t.Errorf("row %d %q: ratio %v met %v, want %v %v", i, rows[i].what, rows[i].ratio, rows[i].met, c.ratio, c.met)
		}
	}
	var b strings.Builder
	printTable(&b, rows)
	if !strings.Contains(b.String(), "| 9.10 µs, 95 allocs | 6.50 µs, 82 allocs | 1.40x | ≤0.5x | not met |") ||
		!strings.Contains(b.String(), "| 30k | 74k | 0.41x | ≤0.5x | met |") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestParseCallgrindTotal(t *testing.T) {
	out := "# callgrind format\nversion: 1\ncmd: ./executor.test -test.bench x\nevents: Ir\nsummary: 123456789\n\nfl=(1) a.go\nfn=(1) main\n5 10\ntotals: 123456789\n"
	got, err := parseCallgrindTotal(out)
	if err != nil || got != 123456789 {
		t.Errorf("total %v, %v", got, err)
	}
	if _, err := parseCallgrindTotal("events: Ir\n"); err == nil {
		t.Error("no total: no error")
	}
}

func TestSizeRows_HoldsTheFunctionsToTheirGoals(t *testing.T) {
	const mb = 1 << 20
	ts := map[string]*target{
		"hello":            {name: "hello", size: 6 * mb, init: []float64{3, 3, 3}},
		"sdk":              {name: "sdk", size: 8 * mb, init: []float64{6, 6, 12}},
		"chat":             {name: "chat", size: 76 * mb, init: []float64{9, 9, 18}},
		"chat-stream":      {name: "chat-stream", size: 30 * mb, init: []float64{15, 15, 15}},
		"health":           {name: "health", size: 7 * mb, init: []float64{3.3, 3.3, 3.3}},
		"chat-bedrock":     {name: "chat-bedrock", size: 41 * mb, init: []float64{6, 6, 12}},
		"definition-get":   {name: "definition-get", size: 15 * mb, crud: true},
		"conversation-get": {name: "conversation-get", size: 11 * mb, crud: true},
		"template-get":     {name: "template-get", size: 15 * mb, crud: true},
	}
	rows, err := sizeRows(ts)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		what string
		met  bool
	}{
		{"chat, INIT", true}, {"chat, stripped size", false},
		{"chat-stream, INIT", false}, {"chat-stream, stripped size", true},
		{"chat-bedrock (Providers=bedrock), INIT", true}, {"chat-bedrock (Providers=bedrock), stripped size", false},
		{"CRUD, stripped size (largest of 3: definition-get)", false},
		{"health, stripped size", true}, {"health, INIT", true},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for i, w := range want {
		if rows[i].what != w.what || rows[i].met != w.met {
			t.Errorf("row %d: %q met %v, want %q %v", i, rows[i].what, rows[i].met, w.what, w.met)
		}
	}
	if rows[0].ratio != 1.5 || rows[2].ratio != 2.5 {
		t.Errorf("INIT ratios %v %v, want the per-round medians 1.5 and 2.5", rows[0].ratio, rows[2].ratio)
	}
	delete(ts, "sdk")
	if _, err := sizeRows(ts); err == nil {
		t.Error("no sdk measured: no error")
	}
}
