package providers_test

import (
	"testing"

	"github.com/chatterhq/chatter/internal/llm/anthropic"
	"github.com/chatterhq/chatter/internal/llm/openai"
	"github.com/chatterhq/chatter/internal/llm/providers"
)

// The ids are literals so a chatter_nosdk build need not link the SDKs; they must
// stay the adapters' names.
func TestProviderIDs_MatchTheAdapters(t *testing.T) {
	if providers.OpenAI != openai.DefaultName || providers.Anthropic != anthropic.ProviderName {
		t.Fatalf("ids %q/%q, adapters %q/%q", providers.OpenAI, providers.Anthropic, openai.DefaultName, anthropic.ProviderName)
	}
}
