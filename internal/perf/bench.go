package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// pair is one of chatter's benchmarks held against one of eino-bench's (names as
// `go test -bench` prints them, without the -GOMAXPROCS suffix).
type pair struct {
	what, chatter, anchor string
	goal                  float64 // chatter/anchor at most
}

// The goals of the engine's overhead against eino's compose.Graph (Step 14).
// Both are in internal/executor/enginebench. BenchmarkEngine runs eino-bench's fake
// model (benchModel) and a store that keeps nothing; BenchmarkExecute is the whole
// run with the in-memory store and devllm, against eino's bare graph.
var pairs = []pair{
	{"engine, one-node chat (`BenchmarkEngine/general_chat` vs `EinoChatInvoke`)", "BenchmarkEngine/general_chat", "BenchmarkEinoChatInvoke", 0.5},
	{"whole run (`BenchmarkExecute/general_chat` vs `EinoChatInvoke`)", "BenchmarkExecute/general_chat", "BenchmarkEinoChatInvoke", 3},
	{"engine, tool loop (`BenchmarkEngine/tool_loop` vs `EinoToolLoop`)", "BenchmarkEngine/tool_loop", "BenchmarkEinoToolLoop", 1},
}

// The instruction counts are the difference of two runs of one benchmark under
// callgrind, fewN and manyN iterations, divided by manyN-fewN: the binary's start,
// the benchmark's setup and its first calibration run cancel out. A garbage
// collection comes every few hundred runs of these benchmarks and costs thousands
// of runs' worth of marking, so the window is 10,000 runs: over 2,000, one
// collection more or less moved a count by a tenth.
const (
	fewN  = 2000
	manyN = 12000
)

// testBinary is a compiled test binary and the directory its tests run in.
type testBinary struct {
	path, dir string
	names     []string // the benchmarks of pairs it holds
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	peers := fs.String("peers", "../shared/peers", "the peers' directory (holding eino-bench, and coldstart for -build)")
	rounds := fs.Int("rounds", 8, "rounds of chatter's and eino's benchmarks, alternately")
	benchtime := fs.String("benchtime", "1s", "-test.benchtime of each timed run")
	callgrind := fs.Bool("callgrind", true, "also count instructions per op under valgrind's callgrind")
	var sizes sizeOptions
	sizes.flags(fs, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "chatter-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// CGO_ENABLED=0: one static binary each, the same one timed and run under valgrind.
	chatter := testBinary{path: filepath.Join(work, "executor.test"), dir: "internal/executor/enginebench"}
	eino := testBinary{path: filepath.Join(work, "eino.test"), dir: filepath.Join(*peers, "eino-bench")}
	for _, p := range pairs {
		chatter.names = appendNew(chatter.names, p.chatter)
		eino.names = appendNew(eino.names, p.anchor)
	}
	for _, b := range []testBinary{chatter, eino} {
		fmt.Fprintf(stderr, "building %s from %s\n", filepath.Base(b.path), b.dir)
		if err := command(ctx, b.dir, []string{"CGO_ENABLED=0"}, stderr, "go", "test", "-c", "-o", b.path, ".").Run(); err != nil {
			return fmt.Errorf("go test -c in %s: %w", b.dir, err)
		}
	}

	// Timed: per round every benchmark of both binaries, the binary to go first
	// alternating, each benchmark in a process of its own (as under callgrind): none
	// runs on a heap another left behind. Run together, a benchmark after
	// BenchmarkExecute (whose in-memory store grows to hundreds of megabytes) paid for
	// returning that memory, one after nothing did not.
	ns := map[string][]float64{}
	allocs := map[string][]float64{}
	for r := range *rounds {
		order := []testBinary{chatter, eino}
		if r%2 == 1 {
			order[0], order[1] = eino, chatter
		}
		for _, b := range order {
			for _, n := range b.names {
				out, err := output(ctx, b.dir, nil, b.path, "-test.run", "^$", "-test.bench", benchPattern([]string{n}),
					"-test.benchmem", "-test.count", "1", "-test.benchtime", *benchtime)
				if err != nil {
					return fmt.Errorf("round %d, %s %s: %w\n%s", r+1, filepath.Base(b.path), n, err, out)
				}
				x, ok := parseBench(out)[n]
				if !ok {
					return fmt.Errorf("round %d: %s printed no %s:\n%s", r+1, filepath.Base(b.path), n, out)
				}
				ns[n] = append(ns[n], x.nsPerOp)
				allocs[n] = append(allocs[n], x.allocsPerOp)
			}
		}
		fmt.Fprintf(stderr, "round %d/%d done\n", r+1, *rounds)
	}

	instr := map[string]float64{}
	if *callgrind {
		for _, b := range []testBinary{chatter, eino} {
			for _, n := range b.names {
				v, err := instructionsPerOp(ctx, b, n, work)
				if err != nil {
					return err
				}
				instr[n] = v
				fmt.Fprintf(stderr, "callgrind %s: %.0f instructions/op\n", n, v)
			}
		}
	}

	fmt.Fprintf(stdout, "%d interleaved rounds (benchtime %s): medians of per-round ratios", *rounds, *benchtime)
	if *callgrind {
		fmt.Fprintf(stdout, "; instructions per op under callgrind ((%dx - %dx)/%d)", manyN, fewN, manyN-fewN)
	}
	fmt.Fprint(stdout, "\n\n")
	rows := benchRows(ns, allocs, instr)
	if sizes.build != "" {
		sized, err := measureSizes(ctx, *peers, sizes, stdout, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		rows = append(rows, sized...)
	}
	printTable(stdout, rows)
	return nil
}

// benchRows turns the rounds' figures into the table: per pair a time row and, when
// counted, an instruction row.
func benchRows(ns, allocs map[string][]float64, instr map[string]float64) []row {
	var rows []row
	for _, p := range pairs {
		timed := func(n string) string {
			return fmt.Sprintf("%.2f µs, %.0f allocs", median(ns[n])/1e3, median(allocs[n]))
		}
		rows = append(rows, ratioRow(p.what+", time", timed(p.chatter), timed(p.anchor),
			medianRatio(ns[p.chatter], ns[p.anchor]), p.goal, ""))
		if c, a := instr[p.chatter], instr[p.anchor]; c > 0 && a > 0 {
			rows = append(rows, ratioRow(p.what+", instructions", fmt.Sprintf("%.0fk", c/1e3),
				fmt.Sprintf("%.0fk", a/1e3), c/a, p.goal, ""))
		}
	}
	return rows
}

// instructionsPerOp runs benchmark name of b under callgrind at fewN and manyN
// iterations: one P, no asynchronous preemption, and collections stopping the
// world, so the count is the work's own and repeats. With the concurrent collector
// how many runs pay write barriers depends on how long, in wall time, a mark phase
// lasts under valgrind's slowdown: two identical counts differed by a half (35k
// and 52k), eino's as much. Stopping the world, each collection's marking is
// counted in full, once, and no barrier at all.
func instructionsPerOp(ctx context.Context, b testBinary, name, work string) (float64, error) {
	var totals [2]float64
	for i, n := range []int{fewN, manyN} {
		out := filepath.Join(work, fmt.Sprintf("callgrind.%d.out", n))
		log, err := output(ctx, b.dir, []string{"GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1,gcstoptheworld=1"},
			"valgrind", "--tool=callgrind", "--callgrind-out-file="+out, b.path,
			"-test.run", "^$", "-test.bench", benchPattern([]string{name}), "-test.benchtime", fmt.Sprintf("%dx", n))
		if err != nil {
			return 0, fmt.Errorf("callgrind %s %dx: %w\n%s", name, n, err, log)
		}
		f, err := os.ReadFile(out)
		if err != nil {
			return 0, err
		}
		if totals[i], err = parseCallgrindTotal(string(f)); err != nil {
			return 0, fmt.Errorf("callgrind %s %dx: %w", name, n, err)
		}
	}
	return (totals[1] - totals[0]) / (manyN - fewN), nil
}

// benchPattern is the -test.bench pattern selecting exactly names (each
// "Top" or "Top/sub").
func benchPattern(names []string) string {
	var tops, subs []string
	for _, n := range names {
		top, sub, _ := strings.Cut(n, "/")
		tops = appendNew(tops, regexp.QuoteMeta(top))
		if sub != "" {
			subs = appendNew(subs, regexp.QuoteMeta(sub))
		}
	}
	p := "^(" + strings.Join(tops, "|") + ")$"
	if len(subs) > 0 {
		p += "/^(" + strings.Join(subs, "|") + ")$"
	}
	return p
}

// benchResult is one line of `go test -bench` output.
type benchResult struct{ nsPerOp, bytesPerOp, allocsPerOp float64 }

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.+)$`)

// parseBench reads `go test -bench` output: each benchmark's figures by its name
// without the -GOMAXPROCS suffix. A name printed twice (-count > 1) keeps the last.
func parseBench(out string) map[string]benchResult {
	res := map[string]benchResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var r benchResult
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.nsPerOp = v
			case "B/op":
				r.bytesPerOp = v
			case "allocs/op":
				r.allocsPerOp = v
			}
		}
		if r.nsPerOp > 0 {
			res[m[1]] = r
		}
	}
	return res
}

// parseCallgrindTotal reads the event total of a callgrind output file (its
// "summary:" or "totals:" line, the PROGRAM TOTALS callgrind_annotate prints).
func parseCallgrindTotal(out string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		for _, p := range []string{"summary:", "totals:"} {
			if v, ok := strings.CutPrefix(line, p); ok {
				f := strings.Fields(v)
				if len(f) == 0 {
					continue
				}
				return strconv.ParseFloat(f[0], 64)
			}
		}
	}
	return 0, errors.New("no summary: or totals: line in the callgrind output")
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// command runs name in dir with this environment plus env, its output to w.
func command(ctx context.Context, dir string, env []string, w io.Writer, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = w, w
	return cmd
}

// output runs name and returns its combined output.
func output(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	var b strings.Builder
	err := command(ctx, dir, env, &b, name, args...).Run()
	return b.String(), err
}
