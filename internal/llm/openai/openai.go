// Package openai is the llm.Provider for OpenAI's Chat Completions API and the
// servers that copy its wire format (Ollama, vLLM, LM Studio), built on the official
// openai-go SDK. Only streaming is implemented; a standard call is a collected stream.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/chatterhq/chatter/internal/llm"
)

// DefaultName is the provider id used when Config.Name is empty.
const DefaultName = "openai"

// defaultBaseURL is where the SDK sends requests when no BaseURL is configured; only
// this endpoint requires an API key.
const defaultBaseURL = "https://api.openai.com/v1"

// Config configures a Provider. APIKey is the only credential field: where the key
// comes from (environment, Secrets Manager, SSM) is the caller's business.
type Config struct {
	APIKey string
	// BaseURL points the provider at a compatible server, e.g.
	// http://localhost:11434/v1 for Ollama. Empty means api.openai.com.
	BaseURL string
	// Model is used when a Request names none.
	Model string
	// HTTPClient replaces the SDK's default client (tests, custom transports).
	HTTPClient *http.Client
	// Name is the provider id reported by Name and in errors; default "openai", so
	// several compatible servers can be configured side by side.
	Name string
	// MaxRetries is passed to the SDK. Leave it 0: the executor retries, and only
	// before the first delta, which the SDK cannot know about.
	MaxRetries int
}

// ConfigFromEnv reads OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL. getenv is
// usually os.Getenv; it is a parameter so tests and Lambda wiring can supply values.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		APIKey:  getenv("OPENAI_API_KEY"),
		BaseURL: getenv("OPENAI_BASE_URL"),
		Model:   getenv("OPENAI_MODEL"),
	}
}

// Provider streams Chat Completions. It is safe for concurrent use.
type Provider struct {
	name   string
	model  string
	apiKey string // kept only to scrub it from error text
	client openai.Client
	// maxCompletionTokens selects the field MaxTokens is sent in, see capTokens.
	maxCompletionTokens bool
}

var _ llm.Provider = (*Provider)(nil)

// New builds a Provider. It fails when the API key is missing for api.openai.com;
// a custom BaseURL may have no key, as local servers usually need none.
func New(cfg Config) (*Provider, error) {
	name := cfg.Name
	if name == "" {
		name = DefaultName
	}
	base := strings.TrimSpace(cfg.BaseURL)
	official := true
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("%s: invalid base URL %q", name, base)
		}
		official = strings.EqualFold(u.Hostname(), "api.openai.com")
	}
	if official && cfg.APIKey == "" {
		return nil, errors.New(name + ": OPENAI_API_KEY is not set (required for " + defaultBaseURL + ")")
	}
	if cfg.MaxRetries < 0 {
		return nil, fmt.Errorf("%s: MaxRetries must be >= 0, got %d", name, cfg.MaxRetries)
	}
	if base == "" {
		base = defaultBaseURL
	}
	// The SDK reads OPENAI_* variables itself; setting key and base URL explicitly
	// (even when empty) keeps Config the single source of truth for both.
	opts := []option.RequestOption{
		option.WithAPIKey(cfg.APIKey),
		option.WithBaseURL(base),
		option.WithMaxRetries(cfg.MaxRetries),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Provider{
		name:                name,
		model:               cfg.Model,
		apiKey:              cfg.APIKey,
		client:              openai.NewClient(opts...),
		maxCompletionTokens: official,
	}, nil
}

// Name returns the provider id.
func (p *Provider) Name() string { return p.name }

// Stream starts one chat completion. The HTTP request is made before Stream
// returns; its failure, like any later one, is reported by the stream's Err as an
// *llm.Error:
//   - rate_limited: 429, or an in-stream rate-limit error
//   - unavailable: 5xx, connection failures, a stream cut off before it finished
//   - auth: 401, 403
//   - invalid_request: 400, 404, 422, or a Request that cannot be encoded
//   - model_error: an in-stream error object of any other kind
//   - malformed: a frame that is not valid JSON
//   - cancelled, timeout: ctx ended
func (p *Provider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	params, err := p.params(req)
	if err != nil {
		return llm.ErrStream(&llm.Error{Provider: p.name, Code: llm.CodeInvalidRequest, Message: err.Error(), Err: err})
	}
	s := &stream{p: p, ctx: ctx}
	s.sdk = p.client.Chat.Completions.NewStreaming(ctx, params, option.WithResponseInto(&s.resp))
	return s
}
