//go:build !chatter_nosdk

package providers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWSSecrets returns Secrets that read Secrets Manager (GetSecretValue) and SSM
// (GetParameter, decrypted) with cfg's region, credentials, HTTP client and
// BaseEndpoint.
//
// It makes the two calls itself — a SigV4-signed awsJson1.1 POST each — rather than
// through the secretsmanager and ssm SDK clients: a function links those only to read
// one key at cold start, and their packages' init alone took 1.8 ms and allocated
// 1.6 MB of every cold start, read or not (`GODEBUG=inittrace=1`). A call is tried
// up to three times on a throttling answer, a 5xx or a failed connection.
func AWSSecrets(cfg aws.Config) Secrets {
	return &awsSecrets{cfg: cfg, signer: v4.NewSigner()}
}

type awsSecrets struct {
	cfg    aws.Config
	signer *v4.Signer
}

func (a *awsSecrets) SecretString(ctx context.Context, id string) (string, error) {
	var out struct {
		SecretString *string
		SecretBinary []byte // base64 in the JSON, as encoding/json decodes []byte
	}
	if err := a.call(ctx, "secretsmanager", "secretsmanager.GetSecretValue", map[string]any{"SecretId": id}, &out); err != nil {
		return "", err
	}
	switch {
	case out.SecretString != nil:
		return *out.SecretString, nil
	case out.SecretBinary != nil:
		return string(out.SecretBinary), nil
	}
	return "", errors.New("secret has no value")
}

func (a *awsSecrets) Parameter(ctx context.Context, name string) (string, error) {
	var out struct {
		Parameter *struct{ Value *string }
	}
	if err := a.call(ctx, "ssm", "AmazonSSM.GetParameter", map[string]any{"Name": name, "WithDecryption": true}, &out); err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("parameter has no value")
	}
	return *out.Parameter.Value, nil
}

// maxSecretAnswer bounds an answer's body: a secret is at most 64 KiB, a parameter
// 8 KiB, both base64-able in JSON.
const maxSecretAnswer = 256 << 10

// awsError is an AWS JSON protocol error: its type and message, never the request.
type awsError struct {
	status      int
	kind, msg   string
	retryable   bool
	service, op string
}

func (e *awsError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.service, e.op, e.status, e.kind, e.msg)
}

// call posts in to service's target operation and decodes the answer into out.
func (a *awsSecrets) call(ctx context.Context, service, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(100*attempt*attempt) * time.Millisecond):
			}
		}
		last = a.try(ctx, service, target, body, out)
		var ae *awsError
		if last == nil || ctx.Err() != nil || (errors.As(last, &ae) && !ae.retryable) {
			return last
		}
	}
	return last
}

func (a *awsSecrets) try(ctx context.Context, service, target string, body []byte, out any) error {
	op := target[strings.IndexByte(target, '.')+1:]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint(service), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if a.cfg.Credentials == nil {
		return fmt.Errorf("%s %s: no AWS credentials", service, op)
	}
	creds, err := a.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: credentials: %w", service, op, err)
	}
	sum := sha256.Sum256(body)
	if err := a.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, a.cfg.Region, time.Now()); err != nil {
		return err
	}
	var client aws.HTTPClient = http.DefaultClient
	if a.cfg.HTTPClient != nil {
		client = a.cfg.HTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", service, op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxSecretAnswer+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", service, op, err)
	}
	if len(raw) > maxSecretAnswer {
		return fmt.Errorf("%s %s: answer over %d bytes", service, op, maxSecretAnswer)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Type     string `json:"__type"`
			Message  string `json:"message"`
			MessageU string `json:"Message"`
		}
		_ = json.Unmarshal(raw, &e)
		kind := e.Type[strings.LastIndexByte(e.Type, '#')+1:] // "com.amazonaws…#ResourceNotFoundException"
		if kind == "" {
			kind = http.StatusText(resp.StatusCode)
		}
		return &awsError{status: resp.StatusCode, kind: kind, msg: first(e.Message, e.MessageU), service: service, op: op,
			retryable: resp.StatusCode >= 500 || strings.Contains(kind, "Throttl") || kind == "TooManyRequestsException"}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON", service, op)
	}
	return nil
}

// endpoint is cfg.BaseEndpoint, or the service's regional endpoint (amazonaws.com,
// amazonaws.com.cn in the China regions).
func (a *awsSecrets) endpoint(service string) string {
	if a.cfg.BaseEndpoint != nil && *a.cfg.BaseEndpoint != "" {
		return *a.cfg.BaseEndpoint
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(a.cfg.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://" + service + "." + a.cfg.Region + "." + domain
}
