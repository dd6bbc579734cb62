//go:build !chatter_nosdk

package providers

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// AWSSecrets returns Secrets backed by Secrets Manager and SSM clients built from cfg.
func AWSSecrets(cfg aws.Config) Secrets {
	return &awsSecrets{sm: secretsmanager.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}
}

type awsSecrets struct {
	sm  *secretsmanager.Client
	ssm *ssm.Client
}

func (a *awsSecrets) SecretString(ctx context.Context, id string) (string, error) {
	out, err := a.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	switch {
	case out.SecretString != nil:
		return *out.SecretString, nil
	case out.SecretBinary != nil:
		return string(out.SecretBinary), nil
	}
	return "", errors.New("secret has no value")
}

func (a *awsSecrets) Parameter(ctx context.Context, name string) (string, error) {
	out, err := a.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("parameter has no value")
	}
	return *out.Parameter.Value, nil
}
