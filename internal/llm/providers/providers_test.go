package providers_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/anthropic"
	"github.com/chatterhq/chatter/internal/llm/bedrock"
	"github.com/chatterhq/chatter/internal/llm/providers"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Every key in these tests contains leak so any error, notice or reason that quotes
// a key is caught.
const leak = "SECRETVALUE"

func envOf(m map[string]string) providers.Env {
	return func(k string) string { return m[k] }
}

// staticAWS is an aws.Config that never reaches AWS: nothing in Load calls out unless
// a secret variable is set.
func staticAWS() *aws.Config {
	return &aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret-key", "")}
}

func names(ps []llm.Provider) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
}

func assertNoLeak(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, leak) {
		t.Errorf("%s leaks a key: %q", what, s)
	}
}

func TestLoad_EnvPermutations(t *testing.T) {
	all := map[string]string{
		"OPENAI_API_KEY":    "sk-" + leak + "-openai",
		"ANTHROPIC_API_KEY": "sk-ant-" + leak,
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		if m == nil {
			m = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name        string
		env         map[string]string
		aws         bool
		wantErr     []string // substrings; nil means success
		providers   []string
		def         string
		models      map[string]string
		unavailable map[string]string // provider -> substring of the reason
		notice      string            // substring; "" means Notice must be empty
	}{
		{
			name: "nothing configured locally falls back to devllm", env: nil,
			providers: []string{"devllm"}, def: "devllm", models: map[string]string{"devllm": "devllm"},
			unavailable: map[string]string{"bedrock": "AWS", "openai": "OPENAI_API_KEY_SECRET_ID", "anthropic": "ANTHROPIC_API_KEY_PARAMETER"},
			notice:      "no LLM provider configured: using devllm (offline, deterministic)",
		},
		{
			name: "stage local falls back to devllm", env: with(nil, "CHATTER_STAGE", "local"),
			providers: []string{"devllm"}, def: "devllm", models: map[string]string{"devllm": "devllm"},
			unavailable: map[string]string{"openai": "OPENAI_BASE_URL"}, notice: "using devllm",
		},
		{
			name: "deployed stage with nothing configured is an error naming what to set", env: with(nil, "CHATTER_STAGE", "prod"),
			wantErr: []string{`"prod"`, "OPENAI_API_KEY", "OPENAI_API_KEY_SECRET_ID", "ANTHROPIC_API_KEY", "AWS", "CHATTER_DEVLLM=on"},
		},
		{
			name: "deployed stage may use devllm deliberately", env: with(nil, "CHATTER_STAGE", "dev", "CHATTER_DEVLLM", "on"),
			providers: []string{"devllm"}, def: "devllm", models: map[string]string{"devllm": "devllm"},
			notice: "CHATTER_DEVLLM=on",
		},
		{
			name: "CHATTER_DEVLLM=off refuses the local fallback", env: with(nil, "CHATTER_DEVLLM", "off"),
			wantErr: []string{"no LLM provider configured locally", "OPENAI_API_KEY"},
		},
		{
			name: "OpenAI key alone", env: with(nil, "OPENAI_API_KEY", all["OPENAI_API_KEY"]),
			providers: []string{"openai"}, def: "openai", models: map[string]string{"openai": providers.OpenAIDefaultModel},
			unavailable: map[string]string{"devllm": "CHATTER_DEVLLM=on", "anthropic": "ANTHROPIC_API_KEY", "bedrock": "AWS"},
		},
		{
			name:      "OpenAI base URL alone enables a keyless local server without a default model",
			env:       with(nil, "OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
			providers: []string{"openai"}, def: "openai", models: map[string]string{},
			notice: "OPENAI_MODEL",
		},
		{
			name:      "OpenAI base URL with a model",
			env:       with(nil, "OPENAI_BASE_URL", "http://127.0.0.1:11434/v1", "OPENAI_MODEL", "llama3.2"),
			providers: []string{"openai"}, def: "openai", models: map[string]string{"openai": "llama3.2"},
		},
		{
			name: "Anthropic key and model", env: with(nil, "ANTHROPIC_API_KEY", all["ANTHROPIC_API_KEY"], "ANTHROPIC_MODEL", "claude-haiku-4-5"),
			providers: []string{"anthropic"}, def: "anthropic", models: map[string]string{"anthropic": "claude-haiku-4-5"},
			unavailable: map[string]string{"openai": "OPENAI_API_KEY"},
		},
		{
			name: "Anthropic key without a model takes the adapter default", env: with(nil, "ANTHROPIC_API_KEY", all["ANTHROPIC_API_KEY"]),
			providers: []string{"anthropic"}, def: "anthropic", models: map[string]string{"anthropic": string(anthropic.DefaultModel)},
		},
		{
			name: "Anthropic base URL alone still needs a key", env: with(nil, "ANTHROPIC_BASE_URL", "http://127.0.0.1:9/"),
			providers: []string{"devllm"}, def: "devllm", models: map[string]string{"devllm": "devllm"},
			unavailable: map[string]string{"anthropic": "API key is still required"}, notice: "using devllm",
		},
		{
			name: "AWS configuration enables bedrock as the default", aws: true,
			providers: []string{"bedrock"}, def: "bedrock", models: map[string]string{"bedrock": bedrock.DefaultModel},
			unavailable: map[string]string{"devllm": "CHATTER_DEVLLM=on", "openai": "OPENAI_API_KEY"},
		},
		{
			name: "BEDROCK_MODEL overrides the bedrock default", aws: true, env: with(nil, "BEDROCK_MODEL", "amazon.nova-lite-v1:0"),
			providers: []string{"bedrock"}, def: "bedrock", models: map[string]string{"bedrock": "amazon.nova-lite-v1:0"},
		},
		{
			name: "CHATTER_BEDROCK=off disables bedrock", aws: true, env: with(all, "CHATTER_BEDROCK", "off"),
			providers: []string{"openai", "anthropic"}, def: "openai",
			models:      map[string]string{"openai": providers.OpenAIDefaultModel, "anthropic": string(anthropic.DefaultModel)},
			unavailable: map[string]string{"bedrock": "CHATTER_BEDROCK=off"},
		},
		{
			name: "everything configured: bedrock first", aws: true, env: all,
			providers: []string{"bedrock", "openai", "anthropic"}, def: "bedrock",
			models: map[string]string{"bedrock": bedrock.DefaultModel, "openai": providers.OpenAIDefaultModel, "anthropic": string(anthropic.DefaultModel)},
		},
		{
			name: "default provider and model chosen explicitly", aws: true,
			env:       with(all, "CHATTER_DEFAULT_PROVIDER", "anthropic", "CHATTER_DEFAULT_MODEL", "claude-haiku-4-5", "OPENAI_MODEL", "gpt-4.1"),
			providers: []string{"bedrock", "openai", "anthropic"}, def: "anthropic",
			models: map[string]string{"bedrock": bedrock.DefaultModel, "openai": "gpt-4.1", "anthropic": "claude-haiku-4-5"},
		},
		{
			name: "CHATTER_DEFAULT_MODEL applies to the automatic default only", aws: true,
			env:       with(all, "CHATTER_DEFAULT_MODEL", "amazon.nova-pro-v1:0"),
			providers: []string{"bedrock", "openai", "anthropic"}, def: "bedrock",
			models: map[string]string{"bedrock": "amazon.nova-pro-v1:0", "openai": providers.OpenAIDefaultModel, "anthropic": string(anthropic.DefaultModel)},
		},
		{
			name: "devllm on beside a real provider is offered but not the default", env: with(all, "CHATTER_DEVLLM", "on"),
			providers: []string{"openai", "anthropic", "devllm"}, def: "openai",
			models: map[string]string{"openai": providers.OpenAIDefaultModel, "anthropic": string(anthropic.DefaultModel), "devllm": "devllm"},
			notice: "CHATTER_DEVLLM=on",
		},
		{
			name: "devllm can be the chosen default", env: with(all, "CHATTER_DEVLLM", "on", "CHATTER_DEFAULT_PROVIDER", "devllm"),
			providers: []string{"openai", "anthropic", "devllm"}, def: "devllm",
			models: map[string]string{"openai": providers.OpenAIDefaultModel, "anthropic": string(anthropic.DefaultModel), "devllm": "devllm"},
			notice: "CHATTER_DEVLLM=on",
		},
		{
			name: "devllm is no fallback in a deployed stage with a provider", env: with(all, "CHATTER_STAGE", "prod"),
			providers: []string{"openai", "anthropic"}, def: "openai",
			models:      map[string]string{"openai": providers.OpenAIDefaultModel, "anthropic": string(anthropic.DefaultModel)},
			unavailable: map[string]string{"devllm": `stage "prod"`},
		},
		{
			name:    "default provider that is not configured is an error with the reason",
			env:     with(nil, "ANTHROPIC_API_KEY", all["ANTHROPIC_API_KEY"], "CHATTER_DEFAULT_PROVIDER", "openai"),
			wantErr: []string{"CHATTER_DEFAULT_PROVIDER", `"openai"`, "OPENAI_API_KEY"},
		},
		{
			name: "default provider that does not exist is an error", env: with(all, "CHATTER_DEFAULT_PROVIDER", "gemini"),
			wantErr: []string{`"gemini"`, "not a provider"},
		},
		{
			name:    "two key sources for one provider are an error",
			env:     with(nil, "OPENAI_API_KEY", all["OPENAI_API_KEY"], "OPENAI_API_KEY_SECRET_ID", "chatter/openai"),
			wantErr: []string{"only one", "OPENAI_API_KEY", "OPENAI_API_KEY_SECRET_ID"},
		},
		{
			name:    "a secret id without AWS configuration is an error naming the variable",
			env:     with(nil, "ANTHROPIC_API_KEY_SECRET_ID", "chatter/anthropic"),
			wantErr: []string{"ANTHROPIC_API_KEY_SECRET_ID", "no AWS configuration"},
		},
		{
			name:    "a parameter without AWS configuration is an error naming the variable",
			env:     with(nil, "OPENAI_API_KEY_PARAMETER", "/chatter/openai"),
			wantErr: []string{"OPENAI_API_KEY_PARAMETER", "no AWS configuration"},
		},
		{
			name: "an invalid switch value is an error", env: with(nil, "CHATTER_DEVLLM", "maybe"),
			wantErr: []string{"CHATTER_DEVLLM", "on or off"},
		},
		{
			name: "an invalid base URL is an error without the key", env: with(all, "OPENAI_BASE_URL", "not a url"),
			wantErr: []string{"base URL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg *aws.Config
			if tt.aws {
				cfg = staticAWS()
			}
			set, err := providers.Load(t.Context(), envOf(tt.env), cfg, providers.Options{})
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Load succeeded with providers %v, want an error containing %q", names(set.Providers), tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				assertNoLeak(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := names(set.Providers); !slices.Equal(got, tt.providers) {
				t.Errorf("providers = %v, want %v", got, tt.providers)
			}
			if set.Default != tt.def {
				t.Errorf("default = %q, want %q", set.Default, tt.def)
			}
			if tt.models != nil && !maps.Equal(set.Models, tt.models) {
				t.Errorf("models = %v, want %v", set.Models, tt.models)
			}
			for _, p := range set.Providers {
				if _, ok := set.Unavailable[p.Name()]; ok {
					t.Errorf("%s is both enabled and unavailable", p.Name())
				}
			}
			if got := len(set.Providers) + len(set.Unavailable); got != 4 {
				t.Errorf("%d providers enabled + unavailable, want all 4 known: %v / %v", got, names(set.Providers), set.Unavailable)
			}
			for name, want := range tt.unavailable {
				if why, ok := set.Unavailable[name]; !ok || !strings.Contains(why, want) {
					t.Errorf("unavailable[%s] = %q, want it to contain %q", name, why, want)
				}
			}
			if tt.notice == "" && set.Notice != "" {
				t.Errorf("notice = %q, want none", set.Notice)
			}
			if !strings.Contains(set.Notice, tt.notice) {
				t.Errorf("notice = %q, want it to contain %q", set.Notice, tt.notice)
			}
			assertNoLeak(t, "notice", set.Notice)
			for name, why := range set.Unavailable {
				assertNoLeak(t, "unavailable["+name+"]", why)
			}
		})
	}
}

// keyServer records the credential header of every request and answers 400, which
// is all a test of key resolution needs from the provider.
type keyServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newKeyServer(t *testing.T) *keyServer {
	ks := &keyServer{}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		ks.mu.Lock()
		ks.seen = append(ks.seen, r.Header.Clone())
		ks.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"test"}}`)
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

// sentKey makes one call through the named provider and returns the key it sent.
func (ks *keyServer) sentKey(t *testing.T, set *providers.Set, name string) string {
	t.Helper()
	i := slices.IndexFunc(set.Providers, func(p llm.Provider) bool { return p.Name() == name })
	if i < 0 {
		t.Fatalf("provider %s not enabled: %v (unavailable %v)", name, names(set.Providers), set.Unavailable)
	}
	_, _ = llm.Collect(set.Providers[i].Stream(t.Context(), &llm.Request{Model: "m",
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}))
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if len(ks.seen) == 0 {
		t.Fatal("the provider sent no request")
	}
	// OpenAI takes the key as a bearer token, Anthropic in x-api-key.
	h := ks.seen[len(ks.seen)-1]
	if k := h.Get("X-Api-Key"); k != "" {
		return k
	}
	return strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
}

func TestLoad_ResolvesKeysFromSecretsManagerAndSSM(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	sm := secretsmanager.NewFromConfig(cfg)
	ps := ssm.NewFromConfig(cfg)
	ctx := t.Context()
	putSecret := func(name, value string) {
		t.Helper()
		if err := upsertSecret(ctx, sm, name, value); err != nil {
			t.Fatalf("CreateSecret %s: %v", name, err)
		}
	}
	putParam := func(name, value string) {
		t.Helper()
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatalf("PutParameter %s: %v", name, err)
		}
	}
	putSecret("resolve/openai-plain", "sk-plain-"+leak+"\n")
	putSecret("resolve/openai-json", `{"api_key": "sk-json-`+leak+`", "org": "o-1"}`)
	putSecret("resolve/anthropic-json", `{"api_key":"sk-ant-json-`+leak+`"}`)
	putParam("/resolve/openai", "sk-param-"+leak)
	putParam("/resolve/anthropic", "sk-ant-param-"+leak)

	ks := newKeyServer(t)
	tests := []struct {
		name     string
		provider string
		env      map[string]string
		wantKey  string
	}{
		{"openai plain secret string", "openai", map[string]string{"OPENAI_API_KEY_SECRET_ID": "resolve/openai-plain"}, "sk-plain-" + leak},
		{"openai JSON secret with api_key", "openai", map[string]string{"OPENAI_API_KEY_SECRET_ID": "resolve/openai-json"}, "sk-json-" + leak},
		{"openai SSM SecureString", "openai", map[string]string{"OPENAI_API_KEY_PARAMETER": "/resolve/openai"}, "sk-param-" + leak},
		{"anthropic JSON secret with api_key", "anthropic", map[string]string{"ANTHROPIC_API_KEY_SECRET_ID": "resolve/anthropic-json"}, "sk-ant-json-" + leak},
		{"anthropic SSM SecureString", "anthropic", map[string]string{"ANTHROPIC_API_KEY_PARAMETER": "/resolve/anthropic"}, "sk-ant-param-" + leak},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := maps.Clone(tt.env)
			env["CHATTER_BEDROCK"] = "off"
			// Only the provider under test gets a base URL: OPENAI_BASE_URL alone
			// would enable openai.
			if tt.provider == providers.OpenAI {
				env["OPENAI_BASE_URL"] = ks.srv.URL + "/v1"
			} else {
				env["ANTHROPIC_BASE_URL"] = ks.srv.URL
			}
			set, err := providers.Load(ctx, envOf(env), &cfg, providers.Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if set.Default != tt.provider {
				t.Errorf("default = %q, want %q", set.Default, tt.provider)
			}
			if got := ks.sentKey(t, set, tt.provider); got != tt.wantKey {
				t.Errorf("the provider sent key %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestLoad_SecretFailuresNameTheSecretNotTheValue(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	sm := secretsmanager.NewFromConfig(cfg)
	ctx := t.Context()
	for name, value := range map[string]string{
		"fail/json-without-key": `{"token":"sk-` + leak + `"}`,
		"fail/broken-json":      `{"api_key": "sk-` + leak,
		"fail/blank":            "   ",
	} {
		if err := upsertSecret(ctx, sm, name, value); err != nil {
			t.Fatalf("CreateSecret %s: %v", name, err)
		}
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"missing secret", map[string]string{"OPENAI_API_KEY_SECRET_ID": "fail/does-not-exist"}, []string{`"fail/does-not-exist"`, "OPENAI_API_KEY_SECRET_ID", "Secrets Manager"}},
		{"missing parameter", map[string]string{"ANTHROPIC_API_KEY_PARAMETER": "/fail/does-not-exist"}, []string{`"/fail/does-not-exist"`, "ANTHROPIC_API_KEY_PARAMETER", "SSM"}},
		{"JSON secret without api_key", map[string]string{"ANTHROPIC_API_KEY_SECRET_ID": "fail/json-without-key"}, []string{`"fail/json-without-key"`, "api_key"}},
		{"secret that is broken JSON", map[string]string{"OPENAI_API_KEY_SECRET_ID": "fail/broken-json"}, []string{`"fail/broken-json"`, "not valid JSON"}},
		{"blank secret", map[string]string{"OPENAI_API_KEY_SECRET_ID": "fail/blank"}, []string{`"fail/blank"`, "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := providers.Load(ctx, envOf(tt.env), &cfg, providers.Options{})
			if err == nil {
				t.Fatalf("Load succeeded with %v, want an error", names(set.Providers))
			}
			t.Logf("error: %v", err)
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			assertNoLeak(t, "error", err.Error())
		})
	}
}

// fakeSecrets is a Secrets that counts lookups, for checking that Options.Secrets is
// used and that nothing is looked up when no secret variable is set.
type fakeSecrets struct{ calls int }

func (f *fakeSecrets) SecretString(context.Context, string) (string, error) {
	f.calls++
	return "sk-fake-" + leak, nil
}

func (f *fakeSecrets) Parameter(context.Context, string) (string, error) {
	f.calls++
	return "", errors.New("no parameters here")
}

func TestLoad_UsesInjectedSecretsOnlyWhenASecretIsNamed(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantCalls int
		wantErr   bool
	}{
		{"secret id is read through Options.Secrets", map[string]string{"OPENAI_API_KEY_SECRET_ID": "x"}, 1, false},
		{"parameter failure is reported", map[string]string{"OPENAI_API_KEY_PARAMETER": "/x"}, 1, true},
		{"plain key needs no lookup", map[string]string{"OPENAI_API_KEY": "sk-" + leak}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSecrets{}
			// No aws.Config: Options.Secrets alone must be enough.
			set, err := providers.Load(t.Context(), envOf(tt.env), nil, providers.Options{Secrets: f})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load error = %v, want error %v", err, tt.wantErr)
			}
			if f.calls != tt.wantCalls {
				t.Errorf("secret lookups = %d, want %d", f.calls, tt.wantCalls)
			}
			if err == nil && set.Default != "openai" {
				t.Errorf("default = %q, want openai", set.Default)
			}
		})
	}
}

// newExecutor wires a Set into an executor the way a workflow binary does.
func newExecutor(t *testing.T, set *providers.Set, mod func(*executor.Options)) (*executor.Executor, *store.Memory, *events.Recorder) {
	t.Helper()
	mem, rec := store.NewMemory(), &events.Recorder{}
	o := executor.Options{Store: mem, Emitter: rec, Providers: set.Providers, DefaultProvider: set.Default,
		DefaultModels: set.Models, Unavailable: set.Unavailable}
	if mod != nil {
		mod(&o)
	}
	x, err := executor.New(o)
	if err != nil {
		t.Fatalf("executor.New: %v", err)
	}
	return x, mem, rec
}

func TestExecutor_ReportsWhyAProviderIsUnavailable(t *testing.T) {
	set, err := providers.Load(t.Context(), envOf(nil), nil, providers.Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	x, _, _ := newExecutor(t, set, nil)
	tests := []struct {
		provider string
		wantCode string
		wantMsg  []string
	}{
		{"openai", errcode.ProviderUnconfigured, []string{`"openai"`, "OPENAI_API_KEY", "OPENAI_API_KEY_SECRET_ID", "OPENAI_API_KEY_PARAMETER"}},
		{"anthropic", errcode.ProviderUnconfigured, []string{`"anthropic"`, "ANTHROPIC_API_KEY"}},
		{"bedrock", errcode.ProviderUnconfigured, []string{`"bedrock"`, "AWS"}},
		{"gemini", errcode.UnknownProvider, []string{`"gemini"`, "devllm"}},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			res, err := x.Execute(t.Context(), executor.Request{Source: executor.Source{Kind: executor.SourceDynamic},
				Input: executor.Input{Message: "hello", UserID: "u1", Config: executor.Config{Provider: tt.provider}}}, nil)
			var pe *executor.PreparationError
			if !errors.As(err, &pe) {
				t.Fatalf("Execute error = %v (%T), want *executor.PreparationError", err, err)
			}
			if res != nil {
				t.Errorf("result = %+v, want nil on a preparation error", res)
			}
			if pe.Code != tt.wantCode || pe.Field != "provider" {
				t.Errorf("code, field = %q, %q; want %q, provider", pe.Code, pe.Field, tt.wantCode)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(pe.Message, w) {
					t.Errorf("message %q does not contain %q", pe.Message, w)
				}
			}
		})
	}
	t.Run("the fallback runs", func(t *testing.T) {
		res, err := x.Execute(t.Context(), executor.Request{Source: executor.Source{Kind: executor.SourceDynamic},
			Input: executor.Input{Message: "hello", UserID: "u1"}}, nil)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if res.Provider != "devllm" || res.Model != "devllm" || res.Response != "You said: hello." {
			t.Errorf("provider, model, response = %q, %q, %q", res.Provider, res.Model, res.Response)
		}
	})
}

// upsertSecret creates a secret, or sets its value when an earlier run (-count)
// already created it on the same moto.
func upsertSecret(ctx context.Context, sm *secretsmanager.Client, name, value string) error {
	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	}
	return err
}
