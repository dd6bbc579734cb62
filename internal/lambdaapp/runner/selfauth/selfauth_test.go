package selfauth

import (
	"context"
	"errors"
	"testing"

	"github.com/chatterhq/chatter/internal/lambdaapp"
)

func TestJWKS_RequiresIssuerAndAudience(t *testing.T) {
	_, err := jwks(context.Background(), lambdaapp.Config{Stage: lambdaapp.StageLocal})
	var ce *lambdaapp.ConfigError
	if !errors.As(err, &ce) || ce.Var != "CHATTER_JWT_ISSUER" {
		t.Fatalf("err = %v", err)
	}
}
