package rie

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseInit_NeedsASuccessfulInit(t *testing.T) {
	ok := `START RequestId: 1 Version: $LATEST
time="2026-12-03T08:00:00Z" level=info msg="INIT RTDONE(status: success)"
time="2026-12-03T08:00:00Z" level=info msg="INIT REPORT(durationMs: 14.251000)"
END RequestId: 1`
	if ms, err := parseInit(ok); err != nil || ms != 14.251 {
		t.Errorf("parseInit: %v, %v", ms, err)
	}
	failed := `msg="INIT RTDONE(status: error)"
msg="INIT REPORT(durationMs: 3.000000)"`
	if _, err := parseInit(failed); err == nil || !strings.Contains(err.Error(), "error") {
		t.Errorf("failed init: %v", err)
	}
	if _, err := parseInit(`msg="INIT REPORT(durationMs: 3.000000)"`); err == nil {
		t.Error("no RTDONE: no error")
	}
}

// rieBin is CHATTER_RIE or the repository's bin/aws-lambda-rie; a missing emulator
// fails the test with how to get it.
func rieBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHATTER_RIE")
	if p == "" {
		p = filepath.Join("..", "..", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the RIE is not at %s: run `make rie` (or set CHATTER_RIE): %v", p, err)
	}
	return p
}

// start runs the emulator on bootstrap and stops it when the test ends, printing
// its log if the test failed.
func start(t *testing.T, ctx context.Context, bootstrap string) *Emulator {
	t.Helper()
	e, err := Start(ctx, Options{Bin: rieBin(t), Bootstrap: bootstrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("RIE log:\n%s", e.Log())
		}
	})
	return e
}

// A bootstrap whose init fails (here one that exits at once) gives an error
// instead of a number.
func TestInit_AFailedInitIsAnError(t *testing.T) {
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := start(t, ctx, falseBin)
	_, _ = e.Invoke(ctx, []byte(`{}`)) // answered or not: INIT is what is checked
	if _, err := e.Init(ctx); err == nil || !strings.Contains(err.Error(), "init failed (INIT RTDONE status error)") {
		t.Fatalf("INIT of a failing bootstrap: %v", err)
	}
}

func TestEmulator_InvokesOneAtATimeReportsInitAndStopsItsGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	echo := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", echo, "./testdata/echo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the echo bootstrap: %v\n%s", err, out)
	}
	e := start(t, ctx, echo)
	if !strings.HasPrefix(e.url, "http://127.0.0.1:") || !strings.HasPrefix(e.runtime, "127.0.0.1:") {
		t.Fatalf("not on loopback: %s, runtime API %s", e.url, e.runtime)
	}

	// The first invoke spawns the bootstrap; the rest overlap, which the emulator
	// survives only because Invoke sends them one at a time.
	if got, err := e.Invoke(ctx, []byte(`{"n":0}`)); err != nil || string(got) != `{"n":0}` {
		t.Fatalf("first invoke: %s, %v", got, err)
	}
	ms, err := e.Init(ctx)
	if err != nil || ms <= 0 {
		t.Fatalf("INIT %v ms: %v", ms, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 1; i <= 4; i++ {
		wg.Go(func() {
			event := fmt.Sprintf(`{"n":%d}`, i)
			if got, err := e.Invoke(ctx, []byte(event)); err != nil || string(got) != event {
				errs <- fmt.Errorf("invoke %s: %s, %v", event, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !e.WaitFor(ctx, "END RequestId") {
		t.Error("no END RequestId in the log")
	}

	pid := e.PID()
	if err := syscall.Kill(-pid, 0); err != nil {
		t.Fatalf("the group %d before Stop: %v", pid, err)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the group %d after Stop: %v, want no process left", pid, err)
	}
	if err := e.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
