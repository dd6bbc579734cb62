// Package bedrock is the llm.Provider for Amazon Bedrock's ConverseStream API, the
// default provider on AWS (IAM auth, no API keys). It maps llm.Request onto the
// Converse message shape and the binary event stream back onto llm.Deltas.
package bedrock

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/chatterhq/chatter/internal/llm"
)

// DefaultModel is a cross-region inference profile: current Claude models on Bedrock
// cannot be invoked on demand by their bare model id.
const DefaultModel = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

// DefaultName is the provider id used in configuration.
const DefaultName = "bedrock"

// ConverseStreamAPI is the part of *bedrockruntime.Client the provider calls.
type ConverseStreamAPI interface {
	ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error)
}

var _ ConverseStreamAPI = (*bedrockruntime.Client)(nil)

// Config configures a Provider. Zero values take the defaults.
type Config struct {
	Model string // model or inference profile id used when a Request names none
	Name  string // provider id, "bedrock" by default
}

// Provider streams model calls through Bedrock's ConverseStream.
type Provider struct {
	api   ConverseStreamAPI
	model string
	name  string
}

var _ llm.Provider = (*Provider)(nil)

// New returns a Provider over client, normally a *bedrockruntime.Client built once
// at init with NewClient.
func New(client ConverseStreamAPI, cfg Config) *Provider {
	p := &Provider{api: client, model: cfg.Model, name: cfg.Name}
	if p.model == "" {
		p.model = DefaultModel
	}
	if p.name == "" {
		p.name = DefaultName
	}
	return p
}

// NewClient builds the Bedrock runtime client the way the provider expects it. The SDK
// does not retry: the executor retries only before the first token, and SDK retries
// underneath would multiply its attempts. A non-empty endpoint overrides the service
// endpoint (local stacks, tests).
func NewClient(cfg aws.Config, endpoint string) *bedrockruntime.Client {
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.RetryMaxAttempts = 1
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Name implements llm.Provider.
func (p *Provider) Name() string { return p.name }

// Stream implements llm.Provider. The call is made on the first Next, so a stream
// that is closed unread costs nothing; request errors surface through Err.
//
// Err returns an *llm.Error with code rate_limited (throttling, quota), unavailable
// (5xx, timeouts, connection failures, a stream cut short), invalid_request
// (validation, unknown model), auth (access denied, bad credentials), model_error
// (the model failed mid-stream), malformed (an undecodable frame), or cancelled /
// timeout when ctx ends.
func (p *Provider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	in, err := buildInput(p.model, req)
	if err != nil {
		return llm.ErrStream(&llm.Error{Provider: p.name, Code: llm.CodeInvalidRequest, Message: err.Error(), Err: err})
	}
	return &stream{ctx: ctx, api: p.api, in: in, provider: p.name}
}
