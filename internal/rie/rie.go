// Package rie runs one Lambda bootstrap under the AWS Lambda Runtime Interface
// Emulator (aws-lambda-rie; `make rie` puts it in ./bin). It owns the emulator's
// launch (both addresses on free 127.0.0.1 ports, a fixed environment, a process
// group of its own), invoking it, its log, stopping it by the group's id and
// reading the INIT it reports: what the RIE tests and `perf sizes` share.
package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Start.
type Options struct {
	// Bin is the emulator's executable.
	Bin string
	// Bootstrap is the function's executable; the emulator runs it in its directory.
	Bootstrap string
	// Env is the environment beyond PATH=/usr/bin:/bin, HOME and TZ=UTC; nothing
	// is inherited from this process.
	Env []string
	// Home is HOME; empty: a directory Start makes and Stop removes.
	Home string
}

// readyWithin bounds Start's wait for the emulator to listen, whatever ctx allows.
const readyWithin = 30 * time.Second

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second

// Emulator is an aws-lambda-rie process this program started, running one
// bootstrap. Stop ends it and the bootstrap by the process group's id.
type Emulator struct {
	url     string // the invocations endpoint
	runtime string // the runtime API's address, host:port
	cmd     *exec.Cmd
	log     *lockedBuffer
	exited  chan struct{}
	tmpHome string // removed by Stop

	invoking sync.Mutex // the RIE crashes on concurrent invokes: one at a time
	once     sync.Once
	stopErr  error
}

// Start runs the emulator on o.Bootstrap and waits, bounded by ctx, until it
// listens. Both of its addresses are always given: its default is 0.0.0.0:8080,
// and it takes any unknown argument for the program to run. It runs in a process
// group of its own (so Stop reaches the bootstrap it spawns) and dies with this
// process (Linux's parent-death signal).
func Start(ctx context.Context, o Options) (*Emulator, error) {
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	bootstrap, err := filepath.Abs(o.Bootstrap)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	emu, runtime := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	e := &Emulator{url: "http://" + emu + "/2015-03-31/functions/function/invocations", runtime: runtime,
		log: &lockedBuffer{}, exited: make(chan struct{})}
	home := o.Home
	if home == "" {
		if home, err = os.MkdirTemp("", "chatter-rie-home-"); err != nil {
			return nil, err
		}
		e.tmpHome = home
	}
	e.cmd = exec.Command(bin, "--runtime-interface-emulator-address", emu, "--runtime-api-address", runtime, bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	e.cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + home, "TZ=UTC"}, o.Env...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		os.RemoveAll(e.tmpHome)
		return nil, fmt.Errorf("rie: starting %s: %w", bin, err)
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()

	ready, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	for {
		c, err := net.Dial("tcp", emu)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.exited:
			_ = e.Stop()
			return nil, fmt.Errorf("rie: the RIE exited before listening:\n%s", e.Log())
		case <-ready.Done():
			_ = e.Stop()
			return nil, fmt.Errorf("rie: the RIE did not listen on %s: %w\n%s", emu, err, e.Log())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// PID is the emulator's process id, which is also its process group's.
func (e *Emulator) PID() int { return e.cmd.Process.Pid }

// Log is all the emulator has written so far: its own log and the bootstrap's
// output.
func (e *Emulator) Log() string { return e.log.String() }

// StatusError is an invoke the emulator answered with a status other than 200.
type StatusError struct {
	Code int
	Body []byte
}

func (e *StatusError) Error() string { return fmt.Sprintf("invoke answered %d %s", e.Code, e.Body) }

// Invoke sends one event and returns the function's raw response; a status other
// than 200 is a *StatusError. Invokes wait for each other: the emulator crashes on
// concurrent ones.
func (e *Emulator) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	e.invoking.Lock()
	defer e.invoking.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoking: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoking: reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, &StatusError{Code: resp.StatusCode, Body: body}
	}
	return body, nil
}

// WaitFor waits, bounded by ctx, until the log holds s, and reports whether it
// does: the emulator writes its log lines asynchronously to the responses.
func (e *Emulator) WaitFor(ctx context.Context, s string) bool {
	return strings.Contains(e.waitLog(ctx, func(l string) bool { return strings.Contains(l, s) }), s)
}

// waitLog polls the log until done holds for it or ctx ends, and returns it.
func (e *Emulator) waitLog(ctx context.Context, done func(string) bool) string {
	for {
		l := e.Log()
		if done(l) {
			return l
		}
		select {
		case <-ctx.Done():
			return e.Log()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logLag bounds Init's wait for the INIT lines once the invoke has been answered.
const logLag = 2 * time.Second

var (
	reInitReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reInitDone   = regexp.MustCompile(`INIT RTDONE\(status: (\w+)\)`)
)

// ErrRuntimeAPI is a cold start whose bootstrap found nothing listening on the
// emulator's runtime API yet (seen about once in a thousand runs): the emulator's
// fault, not the function's, so a measurement takes that run again.
var ErrRuntimeAPI = errors.New("the RIE's runtime API did not answer the bootstrap")

// Init returns the INIT the emulator reports for the bootstrap's cold start (INIT
// REPORT's durationMs: runtime start to the first /next), waiting for it, bounded
// by ctx, after the first invoke. It is an error unless INIT RTDONE says success,
// and ErrRuntimeAPI when the bootstrap could not reach the runtime API.
func (e *Emulator) Init(ctx context.Context) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, logLag)
	defer cancel()
	l := e.waitLog(ctx, func(l string) bool { return reInitReport.MatchString(l) && reInitDone.MatchString(l) })
	ms, err := parseInit(l)
	if err != nil && strings.Contains(l, "runtime/invocation/next\": dial tcp "+e.runtime) {
		return 0, ErrRuntimeAPI
	}
	return ms, err
}

// parseInit reads the log of one cold start: the INIT REPORT's duration, an error
// unless INIT RTDONE says success.
func parseInit(log string) (float64, error) {
	done := reInitDone.FindStringSubmatch(log)
	if done == nil {
		return 0, errors.New("no INIT RTDONE in the RIE log")
	}
	if done[1] != "success" {
		return 0, fmt.Errorf("init failed (INIT RTDONE status %s)", done[1])
	}
	m := reInitReport.FindStringSubmatch(log)
	if m == nil {
		return 0, errors.New("no INIT REPORT in the RIE log")
	}
	return strconv.ParseFloat(m[1], 64)
}

// Stop ends the emulator and its bootstrap by the group's id: SIGTERM, then
// SIGKILL after 5 s (and SIGKILL to whatever of the group outlives the emulator).
// It waits for the emulator to exit and is safe to call twice.
func (e *Emulator) Stop() error {
	e.once.Do(func() {
		pid := e.PID()
		if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			e.stopErr = fmt.Errorf("rie: stopping the RIE (group %d): %w", pid, err)
		}
		select {
		case <-e.exited:
		case <-time.After(stopGrace):
		}
		// The group's id stays taken while any member lives, so this reaches only
		// the emulator and what it spawned.
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) && e.stopErr == nil {
			e.stopErr = fmt.Errorf("rie: killing the RIE (group %d): %w", pid, err)
		}
		<-e.exited
		if e.tmpHome != "" {
			os.RemoveAll(e.tmpHome)
		}
	})
	return e.stopErr
}

// freePorts returns n distinct ports free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("rie: finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// lockedBuffer collects the emulator's output, written and read concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
