// Package providers builds the executor's set of LLM providers from configuration.
// Only binaries that run workflows import it, so CRUD Lambdas never link (nor pay the
// init time of) the OpenAI, Anthropic or Bedrock SDKs.
//
// Configuration (environment variables; Load reads them through an Env, os.Getenv in
// production; values are trimmed of surrounding whitespace):
//
//	CHATTER_STAGE                 deployment stage; empty or "local" allows the devllm
//	                              fallback, any other stage (dev, prod, ...) refuses it
//	CHATTER_DEFAULT_PROVIDER      provider used when a request and its node name none;
//	                              default: the first configured of bedrock, openai,
//	                              anthropic, else devllm
//	CHATTER_DEFAULT_MODEL         model of the default provider (overrides its *_MODEL)
//	CHATTER_DEVLLM                "on": offer the offline devllm provider too; "off": never
//	                              use it, not even as the local fallback; empty: fallback only
//	CHATTER_BEDROCK               "off" disables Bedrock; empty or "on": enabled whenever
//	                              AWS configuration (credentials, region) is available
//	BEDROCK_MODEL                 Bedrock model or inference profile id
//	                              (default us.anthropic.claude-sonnet-4-5-20250929-v1:0)
//	BEDROCK_ENDPOINT_URL          Bedrock runtime endpoint override (tests, local stacks)
//	OPENAI_API_KEY                OpenAI API key
//	OPENAI_API_KEY_SECRET_ID      Secrets Manager secret holding it: the plain key, or
//	                              JSON {"api_key": "..."}
//	OPENAI_API_KEY_PARAMETER      SSM parameter (SecureString) holding it
//	OPENAI_BASE_URL               OpenAI-compatible server (Ollama, vLLM, LM Studio); on
//	                              its own, without a key, it enables openai for keyless
//	                              local servers
//	OPENAI_MODEL                  default OpenAI model (default gpt-4o-mini on
//	                              api.openai.com; none for a custom OPENAI_BASE_URL, so
//	                              requests must name one)
//	ANTHROPIC_API_KEY             Anthropic API key
//	ANTHROPIC_API_KEY_SECRET_ID   Secrets Manager secret holding it (plain or JSON as above)
//	ANTHROPIC_API_KEY_PARAMETER   SSM parameter (SecureString) holding it
//	ANTHROPIC_BASE_URL            Anthropic API endpoint override (a proxy); needs a key
//	ANTHROPIC_MODEL               default Anthropic model (default the SDK's current Sonnet)
//
// At most one of a provider's key sources (*_API_KEY, *_API_KEY_SECRET_ID,
// *_API_KEY_PARAMETER) may be set. Keys are never logged and never appear in errors;
// a failed secret lookup names the secret id or parameter, not its value. A provider
// that is not enabled is listed in Set.Unavailable with what to set, so asking for it
// is an executor provider_unconfigured error rather than "unknown provider".
package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/bedrock"
	"github.com/chatterhq/chatter/internal/llm/devllm"
)

// Provider ids, in the order the default is chosen.
const (
	Bedrock   = bedrock.DefaultName
	OpenAI    = "openai"    // openai.DefaultName
	Anthropic = "anthropic" // anthropic.ProviderName
	DevLLM    = devllm.DefaultName
)

// OpenAIDefaultModel is the model used on api.openai.com when OPENAI_MODEL is empty;
// the openai adapter has no default of its own because compatible servers host
// arbitrary models.
const OpenAIDefaultModel = "gpt-4o-mini"

// devllmModel names devllm's (only) model in records; any name is free and priced.
const devllmModel = "devllm"

// Env reads one configuration variable; os.Getenv in production.
type Env func(string) string

// Set is the providers the executor gets, and what it needs to explain the rest.
// Its fields map one to one onto executor.Options (Providers, DefaultProvider,
// DefaultModels, Unavailable).
type Set struct {
	Providers []llm.Provider
	// Default is the provider used when neither request nor node names one.
	Default string
	// Models is each enabled provider's default model.
	Models map[string]string
	// Unavailable maps each known provider that is not enabled to what to set.
	Unavailable map[string]string
	// Notice is a human-readable note for the startup log ("" when nothing is
	// noteworthy), e.g. that the offline devllm provider is in use.
	Notice string
}

// Secrets reads API keys stored in AWS. Errors must not contain the value.
type Secrets interface {
	// SecretString returns a Secrets Manager secret's value (GetSecretValue).
	SecretString(ctx context.Context, id string) (string, error)
	// Parameter returns an SSM parameter's value, decrypted (GetParameter with
	// WithDecryption).
	Parameter(ctx context.Context, name string) (string, error)
}

// Options tune Load.
type Options struct {
	// Secrets resolves *_SECRET_ID and *_PARAMETER variables; nil means AWSSecrets
	// over the aws.Config given to Load, built only when such a variable is set.
	Secrets Secrets
}

// keyVars names the variables of a provider configured by API key.
type keyVars struct {
	key, secretID, parameter, baseURL string
	keylessBaseURL                    bool // a base URL alone enables the provider
}

var (
	openaiVars = keyVars{key: "OPENAI_API_KEY", secretID: "OPENAI_API_KEY_SECRET_ID",
		parameter: "OPENAI_API_KEY_PARAMETER", baseURL: "OPENAI_BASE_URL", keylessBaseURL: true}
	anthropicVars = keyVars{key: "ANTHROPIC_API_KEY", secretID: "ANTHROPIC_API_KEY_SECRET_ID",
		parameter: "ANTHROPIC_API_KEY_PARAMETER", baseURL: "ANTHROPIC_BASE_URL"}
)

// howToEnable is the Unavailable reason of a provider none of whose variables is set.
func (v keyVars) howToEnable() string {
	if v.keylessBaseURL {
		return fmt.Sprintf("set %s, %s, %s or %s (keyless local servers)", v.key, v.secretID, v.parameter, v.baseURL)
	}
	return fmt.Sprintf("set %s, %s or %s", v.key, v.secretID, v.parameter)
}

// candidate is an enabled provider, built once the default model is known.
type candidate struct {
	name  string
	model string
	build func(model string) (llm.Provider, error)
}

type loader struct {
	ctx     context.Context
	get     func(string) string
	awsCfg  *aws.Config
	secrets Secrets
}

// Load reads the configuration through env and returns the enabled providers.
// awsCfg nil means no AWS (Bedrock unavailable, no secret lookups). It fails when a
// variable is invalid, a secret cannot be read (the error names the secret id or
// parameter, never a value), CHATTER_DEFAULT_PROVIDER names a provider that is not
// enabled, or nothing is configured outside a local stage (devllm is never chosen
// silently in a deployed one).
func Load(ctx context.Context, env Env, awsCfg *aws.Config, opts Options) (*Set, error) {
	l := &loader{ctx: ctx, get: func(k string) string { return strings.TrimSpace(env(k)) }, awsCfg: awsCfg, secrets: opts.Secrets}
	devSetting, err := l.onOff("CHATTER_DEVLLM")
	if err != nil {
		return nil, err
	}
	bedrockSetting, err := l.onOff("CHATTER_BEDROCK")
	if err != nil {
		return nil, err
	}
	stage := l.get("CHATTER_STAGE")
	local := stage == "" || stage == "local"
	s := &Set{Models: map[string]string{}, Unavailable: map[string]string{}}
	var cands []candidate
	var notices []string

	switch {
	case bedrockSetting == "off":
		s.Unavailable[Bedrock] = "disabled by CHATTER_BEDROCK=off"
	case awsCfg == nil:
		s.Unavailable[Bedrock] = "no AWS configuration: give the process AWS credentials and a region (bedrock authenticates with IAM)"
	default:
		endpoint := l.get("BEDROCK_ENDPOINT_URL")
		cfg := *awsCfg
		cands = append(cands, candidate{name: Bedrock, model: first(l.get("BEDROCK_MODEL"), bedrock.DefaultModel),
			build: func(model string) (llm.Provider, error) {
				return bedrock.New(bedrock.NewClient(cfg, endpoint), bedrock.Config{Model: model}), nil
			}})
	}

	key, why, err := l.apiKey(openaiVars)
	if err != nil {
		return nil, err
	}
	if why != "" {
		s.Unavailable[OpenAI] = why
	} else {
		model, build := openAICandidate(l.get, key)
		cands = append(cands, candidate{name: OpenAI, model: model, build: build})
	}

	key, why, err = l.apiKey(anthropicVars)
	if err != nil {
		return nil, err
	}
	if why != "" {
		s.Unavailable[Anthropic] = why
	} else {
		model, build := anthropicCandidate(l.get, key)
		cands = append(cands, candidate{name: Anthropic, model: model, build: build})
	}

	devCand := candidate{name: DevLLM, model: devllmModel, build: func(string) (llm.Provider, error) {
		return devllm.New(devllm.Options{}), nil
	}}
	switch {
	case devSetting == "on":
		cands = append(cands, devCand)
		notices = append(notices, "devllm (offline, deterministic) enabled by CHATTER_DEVLLM=on")
	case len(cands) == 0 && local && devSetting == "":
		cands = append(cands, devCand)
		notices = append(notices, "no LLM provider configured: using devllm (offline, deterministic)")
	case devSetting == "off":
		s.Unavailable[DevLLM] = "disabled by CHATTER_DEVLLM=off"
	case !local:
		s.Unavailable[DevLLM] = fmt.Sprintf("not used in stage %q unless CHATTER_DEVLLM=on", stage)
	default:
		s.Unavailable[DevLLM] = "set CHATTER_DEVLLM=on (it is used on its own only when no other provider is configured)"
	}

	if len(cands) == 0 {
		where := "locally"
		if !local {
			where = fmt.Sprintf("in stage %q", stage)
		}
		return nil, fmt.Errorf("providers: no LLM provider configured %s: %s; or set CHATTER_DEVLLM=on to use the offline devllm provider",
			where, describeUnavailable(s.Unavailable))
	}

	s.Default = cands[0].name
	if want := l.get("CHATTER_DEFAULT_PROVIDER"); want != "" {
		i := slices.IndexFunc(cands, func(c candidate) bool { return c.name == want })
		if i < 0 {
			if why, known := s.Unavailable[want]; known {
				return nil, fmt.Errorf("providers: CHATTER_DEFAULT_PROVIDER is %q, which is not configured: %s", want, why)
			}
			return nil, fmt.Errorf("providers: CHATTER_DEFAULT_PROVIDER is %q, which is not a provider (known: %s, %s, %s, %s)",
				want, Bedrock, OpenAI, Anthropic, DevLLM)
		}
		s.Default = want
	}

	for _, c := range cands {
		model := c.model
		if m := l.get("CHATTER_DEFAULT_MODEL"); m != "" && c.name == s.Default {
			model = m
		}
		p, err := c.build(model)
		if err != nil {
			return nil, err
		}
		s.Providers = append(s.Providers, p)
		if model != "" {
			s.Models[c.name] = model
		} else {
			notices = append(notices, c.name+": OPENAI_BASE_URL is set without OPENAI_MODEL, so every request must name a model")
		}
	}
	s.Notice = strings.Join(notices, "; ")
	return s, nil
}

// onOff reads a switch that is empty, "on" or "off".
func (l *loader) onOff(name string) (string, error) {
	v := strings.ToLower(l.get(name))
	if v != "" && v != "on" && v != "off" {
		return "", fmt.Errorf("providers: %s must be on or off, got %q", name, v)
	}
	return v, nil
}

// apiKey resolves a provider's key. why is non-empty when the provider is not
// enabled; key may be empty when a keyless base URL enables it.
func (l *loader) apiKey(v keyVars) (key, why string, err error) {
	direct, secretID, param := l.get(v.key), l.get(v.secretID), l.get(v.parameter)
	set := 0
	for _, s := range []string{direct, secretID, param} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return "", "", fmt.Errorf("providers: set only one of %s, %s and %s", v.key, v.secretID, v.parameter)
	}
	switch {
	case direct != "":
		return direct, "", nil
	case secretID != "":
		key, err = l.fromSecret(v.secretID, secretID)
		return key, "", err
	case param != "":
		key, err = l.fromParameter(v.parameter, param)
		return key, "", err
	case v.keylessBaseURL && l.get(v.baseURL) != "":
		return "", "", nil
	case l.get(v.baseURL) != "":
		return "", fmt.Sprintf("%s is set but an API key is still required: %s", v.baseURL, v.howToEnable()), nil
	}
	return "", v.howToEnable(), nil
}

func (l *loader) secretStore(variable string) (Secrets, error) {
	if l.secrets == nil {
		if l.awsCfg == nil {
			return nil, fmt.Errorf("providers: %s is set but no AWS configuration is available to read it", variable)
		}
		l.secrets = AWSSecrets(*l.awsCfg)
	}
	return l.secrets, nil
}

// fromSecret reads a key from Secrets Manager: the whole secret string, or the
// "api_key" field of a JSON object (the shape the console's key/value editor makes).
// Errors name the secret id only: a JSON decoder's message could quote the value.
func (l *loader) fromSecret(variable, id string) (string, error) {
	sec, err := l.secretStore(variable)
	if err != nil {
		return "", err
	}
	raw, err := sec.SecretString(l.ctx, id)
	if err != nil {
		return "", fmt.Errorf("providers: reading secret %q (%s) from Secrets Manager: %w", id, variable, err)
	}
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "{") {
		var obj struct {
			APIKey string `json:"api_key"`
		}
		if json.Unmarshal([]byte(raw), &obj) != nil {
			return "", fmt.Errorf("providers: secret %q (%s) starts with '{' but is not valid JSON", id, variable)
		}
		raw = strings.TrimSpace(obj.APIKey)
		if raw == "" {
			return "", fmt.Errorf(`providers: secret %q (%s) is a JSON object without a non-empty "api_key" field`, id, variable)
		}
	}
	if raw == "" {
		return "", fmt.Errorf("providers: secret %q (%s) is empty", id, variable)
	}
	return raw, nil
}

// fromParameter reads a key from an SSM parameter, decrypting a SecureString.
func (l *loader) fromParameter(variable, name string) (string, error) {
	sec, err := l.secretStore(variable)
	if err != nil {
		return "", err
	}
	raw, err := sec.Parameter(l.ctx, name)
	if err != nil {
		return "", fmt.Errorf("providers: reading SSM parameter %q (%s): %w", name, variable, err)
	}
	if raw = strings.TrimSpace(raw); raw == "" {
		return "", fmt.Errorf("providers: SSM parameter %q (%s) is empty", name, variable)
	}
	return raw, nil
}

// describeUnavailable lists the reasons of the real providers in the default order,
// for the error that nothing is configured.
func describeUnavailable(u map[string]string) string {
	var parts []string
	for _, name := range []string{Bedrock, OpenAI, Anthropic} {
		if why, ok := u[name]; ok {
			parts = append(parts, name+": "+why)
		}
	}
	return strings.Join(parts, "; ")
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
