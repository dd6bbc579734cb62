// Command perf prints chatter's performance figures as ratios to the anchors in
// shared/peers, each beside its goal. `perf bench` (make bench) runs chatter's
// executor benchmarks and eino-bench's interleaved, round by round, and counts their
// instructions under callgrind; `perf sizes` (make sizes) takes functions already
// built and measures each one's stripped size and INIT under the RIE, interleaved
// with the peers' hello and SDK bootstraps, which it builds from the peers'
// directory at run time. The peers' code is never copied here.
//
// Run from the repository root: go run ./internal/perf bench|sizes [flags].
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: perf bench|sizes [flags] (run with -h after the subcommand for its flags)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "bench":
		err = benchCmd(ctx, args[1:], stdout, stderr)
	case "sizes":
		err = sizesCmd(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "perf: unknown subcommand %q (bench or sizes)\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "perf:", err)
		return 1
	}
	return 0
}
