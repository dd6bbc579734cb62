package motoserver

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoMoto is returned by Start when moto_server is not on PATH.
var ErrNoMoto = errors.New(`moto_server is not installed; install it with: pip install "moto[server]" ` +
	`(or point AWS_ENDPOINT_URL at LocalStack, e.g. http://localhost:4566)`)

// motoPatch is a sitecustomize module for the moto_server Start runs. It
// fixes two costs of moto 5.x that grow with use and make a dev stack crawl under
// concurrent chats; neither changes what moto answers:
//
//   - PutEvents parses eight JSONPath expressions with a PLY grammar for every
//     event and rule target (~100 ms each here, CPU-bound). Parsed expressions are
//     immutable, so they are cached: PutEvents of 10 events ~2 s -> ~10 ms.
//   - TransactWriteItems deep-copies every table it touches, whole, once per item,
//     to roll back on failure: O(table size) per transaction, which grows with
//     every stored event. The patch snapshots only the items the transaction
//     names and restores those on failure (what DynamoDB's all-or-nothing
//     promises); moto's own table copy becomes a reference.
//   - Query on a table (not an index) collects and sorts every item of the table
//     to pick the partition's: O(table size) per Query, ~100-200 ms on a load
//     test's table. The patch hands it only the partition's items, in the same
//     order.
//
// Overlapping requests are still not atomic in moto; SerializeDynamoDB is still
// needed.
const motoPatch = `# Written by chatter (internal/motoserver) for the moto_server it starts; see moto.go.
try:
    import functools
    import jsonpath_ng.ext as _ext
    _ext.parse = functools.lru_cache(maxsize=512)(_ext.parse)
except Exception:
    pass

try:
    import copy as _copy
    import moto.dynamodb.models as _dm

    class _NoTableCopy:
        def deepcopy(self, x, memo=None):
            if isinstance(x, _dm.Table):
                return x
            return _copy.deepcopy(x, memo)

        def __getattr__(self, name):
            return getattr(_copy, name)

    _orig_transact = _dm.DynamoDBBackend.transact_write_items

    def _transact_write_items(self, transact_items):
        saved = []
        for item in transact_items:
            _, op = next(iter(item.items()))
            name = op.get("TableName")
            if not name or name not in self.tables:
                continue
            table = self.tables[name]
            key = op.get("Key")
            if "Item" in op:
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            if key is None:
                continue
            try:
                cur = self.get_item(name, key)
            except Exception:
                cur = None
            before = _copy.deepcopy(cur.to_json()["Attributes"]) if cur is not None else None
            saved.append((name, key, before))
        try:
            return _orig_transact(self, transact_items)
        except BaseException:
            for name, key, before in reversed(saved):
                if before is None:
                    self.delete_item(name, key)
                else:
                    self.put_item(name, before)
            raise

    _dm.copy = _NoTableCopy()
    _dm.DynamoDBBackend.transact_write_items = _transact_write_items
except Exception:
    pass

try:
    import threading as _threading
    from moto.dynamodb.models.table import Table as _Table

    _partition = _threading.local()
    _orig_all_items = _Table.all_items
    _orig_query = _Table.query

    def _all_items(self):
        want = getattr(_partition, "key", None)
        if want is None or want[0] is not self:
            return _orig_all_items(self)
        items = list(self.items[want[1]].values()) if want[1] in self.items else []
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def _query(self, hash_key, *args, **kwargs):
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        if index_name or hash_key is None or not self.range_key_attr:
            return _orig_query(self, hash_key, *args, **kwargs)
        _partition.key = (self, hash_key)
        try:
            return _orig_query(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = None

    _Table.all_items = _all_items
    _Table.query = _query
except Exception:
    pass
`

// Moto is a moto_server process this program started. Stop ends it by its PID.
type Moto struct {
	// URL is its endpoint, http://127.0.0.1:PORT.
	URL string
	cmd *exec.Cmd

	once    sync.Once
	stopErr error
	exited  chan struct{}
}

// Options configure Start.
type Options struct {
	// Bin is the executable; default "moto_server" from PATH.
	Bin string
	// Output receives the server's stdout and stderr; nil discards them.
	Output io.Writer
	// Ready bounds the wait for the server to answer; default 30s.
	Ready time.Duration
}

// Start starts moto's server on a free 127.0.0.1 port and waits until it
// answers. The process dies with this one even when this one is killed (Linux's
// parent-death signal), so an abrupt exit leaves no server behind.
func Start(ctx context.Context, o Options) (*Moto, error) {
	if o.Bin == "" {
		o.Bin = "moto_server"
	}
	if o.Ready <= 0 {
		o.Ready = 30 * time.Second
	}
	bin, err := exec.LookPath(o.Bin)
	if err != nil {
		return nil, ErrNoMoto
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	patch, err := os.MkdirTemp("", "chatter-moto-")
	if err != nil {
		return nil, fmt.Errorf("motoserver: %w", err)
	}
	if err := os.WriteFile(filepath.Join(patch, "sitecustomize.py"), []byte(motoPatch), 0o600); err != nil {
		os.RemoveAll(patch)
		return nil, fmt.Errorf("motoserver: %w", err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+strings.Trim(patch+string(os.PathListSeparator)+os.Getenv("PYTHONPATH"), string(os.PathListSeparator)))
	cmd.SysProcAttr = dieWithParent()
	if o.Output != nil {
		cmd.Stdout, cmd.Stderr = o.Output, o.Output
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(patch)
		return nil, fmt.Errorf("motoserver: starting moto_server: %w", err)
	}
	m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); os.RemoveAll(patch); close(m.exited) }()
	ready, cancel := context.WithTimeout(ctx, o.Ready)
	defer cancel()
	for {
		if IsMoto(ready, m.URL) {
			return m, nil
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("motoserver: moto_server exited before answering on %s (port taken?)", m.URL)
		case <-ready.Done():
			_ = m.Stop()
			return nil, fmt.Errorf("motoserver: moto_server did not answer on %s within %s", m.URL, o.Ready)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the server's process id.
func (m *Moto) PID() int { return m.cmd.Process.Pid }

// Stop kills the server by its PID and waits for it to exit. It is safe to call
// twice.
func (m *Moto) Stop() error {
	m.once.Do(func() {
		if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			m.stopErr = fmt.Errorf("motoserver: stopping moto_server (pid %d): %w", m.PID(), err)
		}
		<-m.exited
	})
	return m.stopErr
}

// IsMoto reports whether endpoint is a moto server: it answers moto's own API and
// is not LocalStack (which embeds parts of moto). Only moto needs Serialize;
// LocalStack and AWS apply transactions atomically.
func IsMoto(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if ok, _ := answers(ctx, endpoint+"/_localstack/health"); ok {
		return false
	}
	ok, body := answers(ctx, endpoint+"/moto-api/data.json")
	return ok && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
}

// answers GETs url and reports whether it answered 200, with the start of the body.
func answers(ctx context.Context, url string) (bool, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode == http.StatusOK, b
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("motoserver: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SerializeDynamoDB returns a transport that sends DynamoDB requests one at a
// time through next, each response read fully before the next request goes out;
// other requests pass straight through. moto's server does not apply
// TransactWriteItems atomically when requests overlap, so a stack on moto gives
// its aws.Config this transport (the store's optimistic concurrency still races
// between requests, as it would on DynamoDB). SQS long polls and EventBridge calls
// keep their concurrency. LocalStack and AWS need no such help.
//
// On DynamoDB nothing queues, so the line here is ordered to keep the request
// path's latencies what its deadlines expect: a request whose context is marked
// Background (a dev stack's subscribers and sweeper) goes out only while no other
// request waits, and among the rest the earliest context deadline goes first (a
// turn's final write, bounded by its finish timeout, before new work that can
// wait); equal ones in arrival order.
func SerializeDynamoDB(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &serial{next: next}
}

type backgroundKey struct{}

// Background marks ctx's DynamoDB requests as background work for
// SerializeDynamoDB: they wait for every request not so marked.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

func isBackground(ctx context.Context) bool { b, _ := ctx.Value(backgroundKey{}).(bool); return b }

// dynamoTarget prefixes the X-Amz-Target of every DynamoDB operation.
const dynamoTarget = "DynamoDB_"

type serial struct {
	next http.RoundTripper

	mu      sync.Mutex
	busy    bool      // a request is out
	waiting []*waiter // the rest, in arrival order
}

// waiter is a request waiting for the line.
type waiter struct {
	bg       bool
	deadline time.Time // zero: none
	ready    chan struct{}
}

// before reports whether w goes before v: the request path before background
// work, then the earlier deadline (none is latest), then arrival.
func (w *waiter) before(v *waiter) bool {
	if w.bg != v.bg {
		return !w.bg
	}
	if w.deadline.IsZero() || v.deadline.IsZero() {
		return !w.deadline.IsZero() && v.deadline.IsZero()
	}
	return w.deadline.Before(v.deadline)
}

// acquire waits for the request's turn.
func (s *serial) acquire(ctx context.Context) {
	s.mu.Lock()
	if !s.busy {
		s.busy = true
		s.mu.Unlock()
		return
	}
	w := &waiter{bg: isBackground(ctx), ready: make(chan struct{})}
	w.deadline, _ = ctx.Deadline()
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()
	<-w.ready
}

// release hands the line to the waiter that goes first, or frees it.
func (s *serial) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) == 0 {
		s.busy = false
		return
	}
	best := 0
	for i, w := range s.waiting[1:] {
		if w.before(s.waiting[best]) {
			best = i + 1
		}
	}
	w := s.waiting[best]
	s.waiting = slices.Delete(s.waiting, best, best+1)
	close(w.ready)
}

func (s *serial) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), dynamoTarget) {
		return s.next.RoundTrip(r)
	}
	s.acquire(r.Context())
	defer s.release()
	resp, err := s.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	// moto has finished with the request only once its answer is read.
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("motoserver: reading response: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}
