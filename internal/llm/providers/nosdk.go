//go:build chatter_nosdk

package providers

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/chatterhq/chatter/internal/llm"
)

// Built with -tags chatter_nosdk (what `make dev` uses when no OpenAI or Anthropic
// variable is set): the two largest SDKs are left out, which takes about a minute
// off a first build. Configuring either provider in such a binary is an error.

var errNoSDK = errors.New("providers: this binary was built with -tags chatter_nosdk and has no OpenAI or Anthropic SDK; " +
	"rebuild without that tag (make dev does when OPENAI_* or ANTHROPIC_* variables are set)")

func openAICandidate(get func(string) string, _ string) (string, func(string) (llm.Provider, error)) {
	model := get("OPENAI_MODEL")
	if model == "" && get("OPENAI_BASE_URL") == "" {
		model = OpenAIDefaultModel
	}
	return model, func(string) (llm.Provider, error) { return nil, errNoSDK }
}

func anthropicCandidate(get func(string) string, _ string) (string, func(string) (llm.Provider, error)) {
	return get("ANTHROPIC_MODEL"), func(string) (llm.Provider, error) { return nil, errNoSDK }
}

// AWSSecrets has no Secrets Manager or SSM client in a Bedrock-only build: the keys
// they hold are OpenAI's and Anthropic's, which such a build cannot use.
func AWSSecrets(aws.Config) Secrets { return noSecrets{} }

type noSecrets struct{}

func (noSecrets) SecretString(context.Context, string) (string, error) { return "", errNoSDK }
func (noSecrets) Parameter(context.Context, string) (string, error)    { return "", errNoSDK }
