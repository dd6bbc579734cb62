//go:build !chatter_nosdk

package providers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatterhq/chatter/internal/llm/providers"
)

// secretsAPI answers the awsJson1.1 protocol as Secrets Manager and SSM document
// it: one POST per call, the operation in X-Amz-Target, errors as {"__type",
// "message"}. fail lists the status and error type of the first answers.
type secretsAPI struct {
	mu    sync.Mutex
	calls []*http.Request
	fail  []struct {
		status int
		kind   string
	}
}

func (s *secretsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls = append(s.calls, r)
	n := len(s.calls)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if n <= len(s.fail) {
		f := s.fail[n-1]
		w.WriteHeader(f.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.test#" + f.kind, "message": "not here"})
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	switch r.Header.Get("X-Amz-Target") {
	case "secretsmanager.GetSecretValue":
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": in["SecretId"], "SecretString": "sk-" + in["SecretId"].(string)})
	case "AmazonSSM.GetParameter":
		if in["WithDecryption"] != true {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in["Name"], "Value": "sk-" + in["Name"].(string)}})
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// reset clears the calls and sets the failures to come; taken returns the calls.
func (s *secretsAPI) reset(fail ...struct {
	status int
	kind   string
}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.fail = nil, fail
}

func (s *secretsAPI) taken() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func secretsConfig(url string) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
}

// Each call is one signed POST of the operation; a throttled or failed answer is
// tried again (three times in all), a refusal is not, and its error names the type.
func TestAWSSecrets_SignsRetriesAndRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	api := &secretsAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	sec := providers.AWSSecrets(secretsConfig(srv.URL))

	if v, err := sec.SecretString(ctx, "openai"); err != nil || v != "sk-openai" {
		t.Fatalf("SecretString = %q, %v", v, err)
	}
	if v, err := sec.Parameter(ctx, "/keys/anthropic"); err != nil || v != "sk-/keys/anthropic" {
		t.Fatalf("Parameter = %q, %v", v, err)
	}
	for i, service := range []string{"secretsmanager", "ssm"} {
		call := api.taken()[i]
		auth := call.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/"+service+"/aws4_request") ||
			call.Header.Get("X-Amz-Date") == "" || call.Method != http.MethodPost {
			t.Errorf("call %d (%s): %s %q", i, service, call.Method, auth)
		}
	}

	type failure = struct {
		status int
		kind   string
	}
	api.reset(failure{400, "ThrottlingException"}, failure{503, "ServiceUnavailable"})
	if v, err := sec.SecretString(ctx, "again"); err != nil || v != "sk-again" || len(api.taken()) != 3 {
		t.Errorf("after two failures: %q, %v in %d calls, want the value in 3", v, err, len(api.taken()))
	}

	api.reset(failure{400, "ResourceNotFoundException"})
	_, err := sec.SecretString(ctx, "missing")
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") || len(api.taken()) != 1 {
		t.Errorf("refused: %v in %d calls, want ResourceNotFoundException in 1", err, len(api.taken()))
	}
}
