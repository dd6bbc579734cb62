// Package testenv gives integration tests a real AWS-compatible endpoint: moto's
// server started once per test binary on a free 127.0.0.1 port, or the endpoint in
// AWS_ENDPOINT_URL (LocalStack on 4566, say) when set. The server is stopped when
// the test binary exits (Main, and the kernel's parent-death signal as a backstop).
// A missing moto_server fails the test with how to install it; it never skips.
package testenv

import (
	"context"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatterhq/chatter/internal/motoserver"
)

// Region every test client uses.
const Region = "us-east-1"

var (
	once     sync.Once
	endpoint string
	startErr error
	server   *motoserver.Moto
)

// Main runs a package's tests and stops moto afterwards. Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the moto server this process started, if any.
func Stop() {
	if server != nil {
		_ = server.Stop()
		server = nil
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
		HTTPClient:   httpClient,
	}
}

// httpClient is shared by every config this package hands out. Against a moto it
// started, DynamoDB requests go one at a time: moto does not apply concurrent
// TransactWriteItems atomically (real DynamoDB and LocalStack do), and parallel
// tests must not fail on that.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func start() (string, error) {
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return ep, nil
	}
	httpClient.Transport = motoserver.SerializeDynamoDB(http.DefaultTransport)
	m, err := motoserver.Start(context.Background(), motoserver.Options{})
	if err != nil {
		return "", err
	}
	server = m
	return m.URL, nil
}
