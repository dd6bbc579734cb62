// Package testenv gives integration tests a real AWS-compatible endpoint: moto's
// server started once per test binary on a free 127.0.0.1 port, or the endpoint in
// AWS_ENDPOINT_URL (LocalStack on 4566, say) when set. The server is stopped when
// the test binary exits (Main, and the kernel's parent-death signal as a backstop).
// A missing moto_server fails the test with how to install it; it never skips.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region every test client uses.
const Region = "us-east-1"

var (
	once     sync.Once
	endpoint string
	startErr error
	cmd      *exec.Cmd
)

// Main runs a package's tests and stops moto afterwards. Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop kills the moto server this process started, if any.
func Stop() {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cmd = nil
	}
}

// Endpoint returns the AWS endpoint URL for tests, starting moto on first use.
func Endpoint(t testing.TB) string {
	t.Helper()
	once.Do(func() { endpoint, startErr = start() })
	if startErr != nil {
		t.Fatalf("testenv: %v", startErr)
	}
	return endpoint
}

// AWSConfig returns an aws.Config pointed at Endpoint with static test credentials.
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	ep := Endpoint(t)
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(ep),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

func start() (string, error) {
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return ep, nil
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", errors.New(`moto_server is not installed; install it with: pip install "moto[server]" (or set AWS_ENDPOINT_URL to a LocalStack endpoint)`)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting moto_server: %w", err)
	}
	ep := "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return ep, nil
		}
		select {
		case <-ctx.Done():
			Stop()
			return "", fmt.Errorf("moto_server did not answer on %s within 30s", ep)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
