package docsapp_test

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/chatterhq/chatter/internal/documents/embed"
	"github.com/chatterhq/chatter/internal/lambdaapp"
	"github.com/chatterhq/chatter/internal/lambdaapp/docsapp"
)

func config(t *testing.T, env map[string]string) lambdaapp.Config {
	t.Helper()
	c, err := lambdaapp.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEmbeddingModel_HashedLocallyTitanElsewhereTheVariableWins(t *testing.T) {
	deployed := map[string]string{"CHATTER_STAGE": "prod", "CHATTER_TABLE": "t", "CHATTER_CURSOR_KEY": "0123456789abcdef0123456789abcdef"}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, embed.HashedModel},
		{deployed, embed.TitanV2Model},
		{map[string]string{"CHATTER_EMBEDDING_MODEL": "amazon.titan-embed-text-v2:0/512"}, "amazon.titan-embed-text-v2:0/512"},
	} {
		if got := docsapp.EmbeddingModel(config(t, tc.env)); got != tc.want {
			t.Errorf("env %v: model %q, want %q", tc.env, got, tc.want)
		}
	}
	if c := config(t, map[string]string{}); c.DocumentsBucket != lambdaapp.LocalDocumentsBucket {
		t.Errorf("local bucket = %q", c.DocumentsBucket)
	}
}

func TestNew_NamesTheVariableAtFault(t *testing.T) {
	app := func(env map[string]string) *lambdaapp.App {
		return lambdaapp.NewWith(config(t, env), aws.Config{Region: "us-east-1"}, slog.New(slog.DiscardHandler))
	}
	deployed := map[string]string{"CHATTER_STAGE": "prod", "CHATTER_TABLE": "t", "CHATTER_CURSOR_KEY": "0123456789abcdef0123456789abcdef"}
	var ce *lambdaapp.ConfigError
	if _, err := docsapp.New(app(deployed), func(string) string { return "" }); !errors.As(err, &ce) || ce.Var != "CHATTER_DOCUMENTS_BUCKET" {
		t.Errorf("no bucket outside local: %v", err)
	}
	bad := map[string]string{"CHATTER_EMBEDDING_MODEL": "word2vec"}
	if _, err := docsapp.New(app(bad), func(string) string { return "" }); !errors.As(err, &ce) || ce.Var != "CHATTER_EMBEDDING_MODEL" {
		t.Errorf("unknown model: %v", err)
	}
	d, err := docsapp.New(app(map[string]string{}), func(string) string { return "" })
	if err != nil || d.Model != embed.HashedModel || d.Blobs.Bucket() != lambdaapp.LocalDocumentsBucket {
		t.Errorf("local: %+v %v", d, err)
	}
}
