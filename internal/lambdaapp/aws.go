package lambdaapp

import (
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// Why not config.LoadDefaultConfig: in a Lambda the credentials and the region are
// always in the environment (the execution role's temporary keys in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; AWS_REGION), and
// the execution environment is retired before those keys expire, so nothing needs
// refreshing. LoadDefaultConfig would link the SDK's whole resolution chain (shared
// config and ini parsing, SSO, SSO-OIDC, STS, sign-in, IMDS, process and container
// credentials) into every function and run its init at each cold start; reading the
// four variables is all a function needs. This does not serve SnapStart (whose
// restored snapshots get their credentials from the container endpoint,
// AWS_CONTAINER_CREDENTIALS_FULL_URI): a function enabling it needs the SDK's chain
// back. The CLI and the dev stack keep LoadDefaultConfig (profiles, SSO) in
// cmd/chatter.

// AWSFromEnv builds the aws.Config of a Lambda function from its environment
// (through getenv): static credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and the optional AWS_SESSION_TOKEN, c.Region, and every
// client pointed at c.Endpoint when set. Missing credentials or region are a
// *ConfigError per variable at init, never a failure at the first call. Retries,
// HTTP client and checksums are the SDK's defaults, as LoadDefaultConfig leaves
// them when no AWS_MAX_ATTEMPTS, AWS_RETRY_MODE or shared config is set.
func AWSFromEnv(getenv func(string) string, c Config) (aws.Config, error) {
	var errs []error
	need := func(name string) string {
		v := getenv(name)
		if v == "" {
			errs = append(errs, &ConfigError{Var: name, Reason: "is required (Lambda sets it; locally use any value for moto)"})
		}
		return v
	}
	id, secret := need("AWS_ACCESS_KEY_ID"), need("AWS_SECRET_ACCESS_KEY")
	if c.Region == "" {
		errs = append(errs, &ConfigError{Var: "AWS_REGION", Reason: "is required outside the local stage (Lambda sets it)"})
	}
	if err := errors.Join(errs...); err != nil {
		return aws.Config{}, err
	}
	cfg := aws.Config{
		Region:                     c.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")),
		Logger:                     logging.NewStandardLogger(os.Stderr),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	if c.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.Endpoint)
	}
	return cfg, nil
}
