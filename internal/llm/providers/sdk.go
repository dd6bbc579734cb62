//go:build !chatter_nosdk

package providers

import (
	"fmt"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/anthropic"
	"github.com/chatterhq/chatter/internal/llm/openai"
)

// openAICandidate resolves the OpenAI adapter's default model and constructor.
func openAICandidate(get func(string) string, key string) (string, func(string) (llm.Provider, error)) {
	cfg := openai.ConfigFromEnv(get)
	cfg.APIKey = key
	model := cfg.Model
	if model == "" && cfg.BaseURL == "" {
		model = OpenAIDefaultModel
	}
	return model, func(model string) (llm.Provider, error) {
		cfg.Model = model
		p, err := openai.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("providers: %w", err)
		}
		return p, nil
	}
}

// anthropicCandidate resolves the Anthropic adapter's default model and constructor.
func anthropicCandidate(get func(string) string, key string) (string, func(string) (llm.Provider, error)) {
	cfg := anthropic.ConfigFromEnv(get)
	cfg.APIKey = key
	model := cfg.Model
	if model == "" {
		model = string(anthropic.DefaultModel)
	}
	return model, func(model string) (llm.Provider, error) {
		cfg.Model = model
		p, err := anthropic.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("providers: %w", err)
		}
		return p, nil
	}
}
