package lambdaapp

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var goodKey = strings.Repeat("k", MinCursorKeyBytes)

func TestConfigFromEnv_ReadsEveryVariable(t *testing.T) {
	c, err := ConfigFromEnv(envOf(map[string]string{
		"CHATTER_STAGE": "prod", "CHATTER_TABLE": "chatter-prod", "CHATTER_EVENT_BUS": "bus",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "CHATTER_JWT_ISSUER": "https://issuer.example/",
		"CHATTER_JWT_AUDIENCE": "chatter", "CHATTER_CURSOR_KEY": goodKey, "CHATTER_BODY_LIMIT": " 1000 ",
		"CHATTER_MAX_MESSAGE_BYTES": "500", "CHATTER_METRICS_NAMESPACE": "X/Y", "CHATTER_RATE_CHAT": "5",
		"CHATTER_RATE_OTHER": "0", "CHATTER_DEFAULT_PROVIDER": "openai", "CHATTER_DEFAULT_MODEL": "gpt-4o-mini",
		"CHATTER_ALLOWED_ORIGINS": " https://app.example.com, ,http://localhost:* ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Stage != "prod" || c.Local(), c.Table != "chatter-prod", c.EventBus != "bus",
		c.Endpoint != "http://127.0.0.1:5000", c.JWTAudience != "chatter",
		c.JWKSURL != "https://issuer.example/.well-known/jwks.json", string(c.CursorKey) != goodKey,
		c.BodyLimit != 1000, c.MaxMessageBytes != 500, c.MetricsNamespace != "X/Y",
		c.DefaultProvider != "openai", c.DefaultModel != "gpt-4o-mini",
		c.CORS == nil || !slices.Equal(c.CORS.Origins(), []string{"https://app.example.com", "http://localhost:*"}):
		t.Fatalf("config = %+v", c)
	}
	want := map[httpcore.Class]httpcore.Rate{httpcore.ClassChat: {Limit: 5, Window: time.Minute},
		httpcore.ClassOther: {Limit: 0, Window: time.Minute}}
	if len(c.Rates) != 2 || c.Rates[httpcore.ClassChat] != want[httpcore.ClassChat] || c.Rates[httpcore.ClassOther] != want[httpcore.ClassOther] {
		t.Fatalf("rates = %v, want %v", c.Rates, want)
	}
}

func TestConfigFromEnv_LocalStageDefaults(t *testing.T) {
	c, err := ConfigFromEnv(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Local() || c.Table != LocalName || c.EventBus != LocalName || c.CursorKey != nil || c.Rates != nil || c.CORS != nil {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigFromEnv_NamesEachBadVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		vars []string
	}{
		{"deployed stage needs table and cursor key", map[string]string{"CHATTER_STAGE": "dev"},
			[]string{"CHATTER_TABLE", "CHATTER_CURSOR_KEY"}},
		{"short cursor key", map[string]string{"CHATTER_CURSOR_KEY": "short"}, []string{"CHATTER_CURSOR_KEY"}},
		{"bad stage", map[string]string{"CHATTER_STAGE": "Prod!", "CHATTER_TABLE": "t", "CHATTER_CURSOR_KEY": goodKey},
			[]string{"CHATTER_STAGE"}},
		{"bad numbers", map[string]string{"CHATTER_BODY_LIMIT": "0", "CHATTER_MAX_MESSAGE_BYTES": "x",
			"CHATTER_RATE_STREAM": "-1"}, []string{"CHATTER_BODY_LIMIT", "CHATTER_MAX_MESSAGE_BYTES", "CHATTER_RATE_STREAM"}},
		{"bad URLs", map[string]string{"AWS_ENDPOINT_URL": "localhost:4566", "CHATTER_JWKS_URL": "ftp://x/y",
			"CHATTER_JWT_ISSUER": "issuer"}, []string{"AWS_ENDPOINT_URL", "CHATTER_JWKS_URL", "CHATTER_JWT_ISSUER"}},
		{"bad namespace", map[string]string{"CHATTER_METRICS_NAMESPACE": ":x"}, []string{"CHATTER_METRICS_NAMESPACE"}},
		{"message cap over what a record holds", map[string]string{"CHATTER_MAX_MESSAGE_BYTES": "131073"}, []string{"CHATTER_MAX_MESSAGE_BYTES"}},
		{"origin with a path", map[string]string{"CHATTER_ALLOWED_ORIGINS": "https://app.example.com/"}, []string{"CHATTER_ALLOWED_ORIGINS"}},
		{"wildcard subdomain", map[string]string{"CHATTER_ALLOWED_ORIGINS": "https://*.example.com"}, []string{"CHATTER_ALLOWED_ORIGINS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(envOf(tt.env))
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("%v is not a *ConfigError", e)
				}
				got = append(got, ce.Var)
			}
			slices.Sort(got)
			slices.Sort(tt.vars)
			if !slices.Equal(got, tt.vars) {
				t.Fatalf("variables named = %v, want %v (%v)", got, tt.vars, err)
			}
		})
	}
}

func TestConfigFromEnv_NeverPrintsTheCursorKey(t *testing.T) {
	_, err := ConfigFromEnv(envOf(map[string]string{"CHATTER_CURSOR_KEY": "secret-but-short"}))
	if err == nil || strings.Contains(err.Error(), "secret-but-short") {
		t.Fatalf("err = %v", err)
	}
}

func TestAWSFromEnv_StaticCredentialsRegionAndEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	env := envOf(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_SESSION_TOKEN": "token", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
		"CHATTER_STAGE": "prod", "CHATTER_TABLE": "t", "CHATTER_CURSOR_KEY": goodKey})
	c, err := ConfigFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := AWSFromEnv(env, c)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:5000" {
		t.Errorf("region %q, endpoint %v", cfg.Region, cfg.BaseEndpoint)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
	// AWS_REGION wins over AWS_DEFAULT_REGION, as in the SDK's chain.
	c, _ = ConfigFromEnv(envOf(map[string]string{"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}))
	if c.Region != "us-west-2" {
		t.Errorf("region %q, want us-west-2", c.Region)
	}
}

func TestAWSFromEnv_MissingCredentialsNameEachVariable(t *testing.T) {
	env := envOf(map[string]string{"CHATTER_STAGE": "prod", "CHATTER_TABLE": "t", "CHATTER_CURSOR_KEY": goodKey})
	c, err := ConfigFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AWSFromEnv(env, c)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		if errors.As(e, &ce) {
			got = append(got, ce.Var)
		}
	}
	if want := []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}; !slices.Equal(got, want) {
		t.Errorf("errors name %v, want %v (%v)", got, want, err)
	}
	// The local stage defaults the region, never the credentials.
	local, _ := ConfigFromEnv(envOf(nil))
	if _, err := AWSFromEnv(envOf(nil), local); err == nil || local.Region != LocalRegion {
		t.Errorf("local: region %q, err %v", local.Region, err)
	}
}
