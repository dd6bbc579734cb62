package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/devstack"
)

func TestStartMoto_ServesUntilStoppedByPID(t *testing.T) {
	m, err := devstack.StartMoto(context.Background(), devstack.MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.URL, "http://127.0.0.1:") {
		t.Errorf("URL %q is not on loopback", m.URL)
	}
	if !devstack.IsMoto(context.Background(), m.URL) {
		t.Fatal("a running moto_server is not recognised")
	}
	pid := m.PID()
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill -0: %v)", pid, err)
	}
	if devstack.IsMoto(context.Background(), m.URL) {
		t.Error("the endpoint still answers after Stop")
	}
}

func TestStartMoto_MissingBinarySaysHowToInstall(t *testing.T) {
	_, err := devstack.StartMoto(context.Background(), devstack.MotoOptions{Bin: "no-such-moto-server"})
	if !errors.Is(err, devstack.ErrNoMoto) || !strings.Contains(err.Error(), "pip install") {
		t.Fatalf("err = %v, want ErrNoMoto with install advice", err)
	}
}

func TestStartMoto_ServerThatExitsAtOnceIsAnError(t *testing.T) {
	_, err := devstack.StartMoto(context.Background(), devstack.MotoOptions{Bin: "false"})
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
			if got := devstack.IsMoto(context.Background(), srv.URL); got != tc.want {
				t.Errorf("IsMoto = %v, want %v", got, tc.want)
			}
		})
	}
	if devstack.IsMoto(context.Background(), "http://127.0.0.1:1") {
		t.Error("a closed port is moto")
	}
}

func TestSerialize_SendsOneRequestAtATimeWithWholeBodies(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond) // widen the window in which overlap would show
		fmt.Fprintf(w, "echo %s", r.URL.Query().Get("i"))
	}))
	defer srv.Close()
	client := &http.Client{Transport: devstack.Serialize(nil)}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			resp, err := client.Get(fmt.Sprintf("%s/?i=%d", srv.URL, i))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("echo %d", i); string(b) != want {
				t.Errorf("body %q, want %q", b, want)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d requests overlapped at the server, want 1", most.Load())
	}
	if _, err := client.Get("http://127.0.0.1:1/"); err == nil {
		t.Error("a failed request did not report its error")
	}
}
