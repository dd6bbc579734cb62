package motoserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/motoserver"
)

func TestStart_ServesUntilStoppedByPID(t *testing.T) {
	m, err := motoserver.Start(context.Background(), motoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.URL, "http://127.0.0.1:") {
		t.Errorf("URL %q is not on loopback", m.URL)
	}
	if !motoserver.IsMoto(context.Background(), m.URL) {
		t.Fatal("a running moto_server is not recognised")
	}
	pid := m.PID()
	patch := motoPatchDir(t, pid)
	if _, err := os.Stat(filepath.Join(patch, "sitecustomize.py")); err != nil {
		t.Errorf("moto runs without the JSONPath cache patch: %v", err)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill -0: %v)", pid, err)
	}
	if motoserver.IsMoto(context.Background(), m.URL) {
		t.Error("the endpoint still answers after Stop")
	}
	if _, err := os.Stat(patch); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("patch folder %s left behind (stat: %v)", patch, err)
	}
}

// motoPatchDir is the first PYTHONPATH entry of process pid.
func motoPatchDir(t *testing.T, pid int) string {
	t.Helper()
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			return strings.Split(v, string(os.PathListSeparator))[0]
		}
	}
	t.Fatal("moto_server has no PYTHONPATH")
	return ""
}

func TestStart_MissingBinarySaysHowToInstall(t *testing.T) {
	_, err := motoserver.Start(context.Background(), motoserver.Options{Bin: "no-such-moto-server"})
	if !errors.Is(err, motoserver.ErrNoMoto) || !strings.Contains(err.Error(), "pip install") {
		t.Fatalf("err = %v, want ErrNoMoto with install advice", err)
	}
}

func TestStart_ServerThatExitsAtOnceIsAnError(t *testing.T) {
	_, err := motoserver.Start(context.Background(), motoserver.Options{Bin: "false"})
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("err = %v, want an exit error", err)
	}
}

func TestIsMoto_OnlyMotoItself(t *testing.T) {
	tests := []struct {
		name   string
		routes map[string]string
		want   bool
	}{
		{"moto", map[string]string{"/moto-api/data.json": `{"dynamodb": {}}`}, true},
		{"localstack embedding moto", map[string]string{"/_localstack/health": `{}`, "/moto-api/data.json": `{}`}, false},
		{"html page", map[string]string{"/moto-api/data.json": `<html>`}, false},
		{"anything else", map[string]string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := tc.routes[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				io.WriteString(w, body)
			}))
			defer srv.Close()
			if got := motoserver.IsMoto(context.Background(), srv.URL); got != tc.want {
				t.Errorf("IsMoto = %v, want %v", got, tc.want)
			}
		})
	}
	if motoserver.IsMoto(context.Background(), "http://127.0.0.1:1") {
		t.Error("a closed port is moto")
	}
}

func TestSerializeDynamoDB_OneDynamoDBRequestAtATimeOthersPass(t *testing.T) {
	var inFlight, most atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "" {
			fmt.Fprint(w, "other")
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if r.URL.Query().Get("hold") != "" {
			<-release
		}
		time.Sleep(time.Millisecond) // widen the window in which overlap would show
		fmt.Fprintf(w, "echo %s", r.URL.Query().Get("i"))
	}))
	defer srv.Close()
	client := &http.Client{Transport: motoserver.SerializeDynamoDB(nil)}
	get := func(url string, dynamo bool) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if dynamo {
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.TransactWriteItems")
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	// A DynamoDB request held at the server must not hold up other services.
	held := make(chan error, 1)
	go func() { _, err := get(srv.URL+"/?hold=1", true); held <- err }()
	for inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if body, err := get(srv.URL+"/sqs", false); err != nil || body != "other" {
		t.Fatalf("non-DynamoDB request while DynamoDB is busy: %q, %v", body, err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			body, err := get(fmt.Sprintf("%s/?i=%d", srv.URL, i), true)
			if want := fmt.Sprintf("echo %d", i); err != nil || body != want {
				t.Errorf("body %q (err %v), want %q", body, err, want)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d DynamoDB requests overlapped at the server, want 1", most.Load())
	}
	if _, err := get("http://127.0.0.1:1/", true); err == nil {
		t.Error("a failed request did not report its error")
	}
}

func TestSerializeDynamoDB_RequestPathFirstEarliestDeadlineFirstBackgroundLast(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := r.URL.Query().Get("who")
		if who == "first" {
			arrived <- struct{}{}
			<-release
		}
		mu.Lock()
		order = append(order, who)
		mu.Unlock()
	}))
	defer srv.Close()
	client := &http.Client{Transport: motoserver.SerializeDynamoDB(nil)}
	get := func(ctx context.Context, who string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/?who="+who, nil)
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	soon, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	later, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	var wg sync.WaitGroup
	wg.Go(func() { get(context.Background(), "first") })
	<-arrived // the line is busy; the rest queue in this order
	for _, q := range []struct {
		ctx context.Context
		who string
	}{{motoserver.Background(soon), "background"}, {context.Background(), "none"}, {later, "later"}, {soon, "soon"}} {
		wg.Go(func() { get(q.ctx, q.who) })
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got, want := strings.Join(order, " "), "first soon later none background"; got != want {
		t.Errorf("served %s; want %s", got, want)
	}
}
