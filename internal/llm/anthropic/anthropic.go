// Package anthropic is the llm.Provider for Anthropic's Messages API, built on the
// official Go SDK (anthropic-sdk-go/v2) and always streaming: a standard call is
// the same stream collected by the executor.
//
// SDK v2 speaks API version 2026-10-21, which rejects temperature (even at its
// default) with a 400 and which the SDK no longer lets us send; Request.Temperature
// is therefore ignored, with one warning per Provider.
package anthropic

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/chatterhq/chatter/internal/llm"
)

// ProviderName is the id used in configuration and in every *llm.Error.
const ProviderName = "anthropic"

// Defaults applied by New.
const (
	DefaultModel     = anthropic.ModelClaudeSonnet5_5
	DefaultMaxTokens = 4096
)

// Config configures a Provider. Only APIKey is required.
type Config struct {
	APIKey string
	// BaseURL overrides https://api.anthropic.com (a proxy, or a test server).
	BaseURL string
	// Model is used when a Request names none; DefaultModel when empty.
	Model string
	// HTTPClient defaults to http.DefaultClient. Streams are bounded by the caller's
	// context, so it should carry no overall Timeout.
	HTTPClient *http.Client
	// MaxTokensDefault is sent when a Request has MaxTokens 0, since Anthropic
	// requires max_tokens on every call; DefaultMaxTokens when 0.
	MaxTokensDefault int
}

// ConfigFromEnv reads ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and ANTHROPIC_MODEL.
// getenv is injected (os.Getenv in main) so configuration stays testable.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		APIKey:  getenv("ANTHROPIC_API_KEY"),
		BaseURL: getenv("ANTHROPIC_BASE_URL"),
		Model:   getenv("ANTHROPIC_MODEL"),
	}
}

// Provider streams Messages API calls. It is safe for concurrent use; build one per
// process.
type Provider struct {
	client    anthropic.Client
	apiKey    string // kept only to scrub it from error text
	model     string
	maxTokens int
	tempOnce  sync.Once
}

var _ llm.Provider = (*Provider)(nil)

// New builds a Provider. It returns an *llm.Error with code auth when the API key is
// missing, so a misconfigured deployment fails at init rather than on first use.
func New(cfg Config) (*Provider, error) {
	if cfg.APIKey == "" {
		return nil, &llm.Error{Provider: ProviderName, Code: llm.CodeAuth, Message: "missing API key: set ANTHROPIC_API_KEY"}
	}
	if cfg.MaxTokensDefault < 0 {
		return nil, fmt.Errorf("anthropic: MaxTokensDefault must not be negative, got %d", cfg.MaxTokensDefault)
	}
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.MaxTokensDefault == 0 {
		cfg.MaxTokensDefault = DefaultMaxTokens
	}
	// The environment was already read by ConfigFromEnv (or deliberately not); the
	// SDK must not add a second source of credentials or base URL behind our back.
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(cfg.APIKey),
		// The SDK sends the key as a bearer token; the API documents x-api-key, and
		// proxies in front of it expect that header, so send only it.
		option.WithHeaderDel("Authorization"),
		option.WithHeader("X-Api-Key", cfg.APIKey),
		// The executor retries, and only before the first delta; SDK retries would
		// multiply its attempts and hide the latency from it.
		option.WithMaxRetries(0),
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("anthropic: invalid base URL %q", cfg.BaseURL)
		}
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Provider{
		client:    anthropic.NewClient(opts...),
		apiKey:    cfg.APIKey,
		model:     cfg.Model,
		maxTokens: cfg.MaxTokensDefault,
	}, nil
}

// Name implements llm.Provider.
func (p *Provider) Name() string { return ProviderName }

// Stream implements llm.Provider. It sends the request before returning (so HTTP
// errors surface on the first Next) and never returns nil. Errors are *llm.Error:
// rate_limited (429, rate_limit_error), unavailable (5xx, 529, overloaded_error,
// api_error, connection failures, a stream cut before message_stop), auth (401,
// 403), invalid_request (400, a request that cannot be encoded), malformed (an
// undecodable frame), model_error (an unknown mid-stream error), cancelled and
// timeout (ctx).
func (p *Provider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	if req == nil {
		return llm.ErrStream(&llm.Error{Provider: ProviderName, Code: llm.CodeInvalidRequest, Message: "nil request"})
	}
	params, err := p.params(req)
	if err != nil {
		return llm.ErrStream(&llm.Error{Provider: ProviderName, Code: llm.CodeInvalidRequest, Message: err.Error(), Err: err})
	}
	if req.Temperature != nil {
		p.tempOnce.Do(func() {
			slog.Warn("anthropic: temperature is not supported by API version 2026-10-21; ignoring it",
				slog.String("provider", ProviderName))
		})
	}
	return newStream(ctx, p, p.client.Messages.NewStreaming(ctx, params))
}
