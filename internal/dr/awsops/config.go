package awsops

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// SessionDuration is how long the assumed DR role's credentials last: an
// hour, so a run that waits on RDS does not lose them half-way (the
// default is 15 minutes). The role's MaxSessionDuration must allow it.
const SessionDuration = time.Hour

// LoadConfig loads drctl's SDK configuration. home is the Region read
// first (a run's target) and the Region of STS: AssumeRole goes to its
// regional endpoint, not to us-east-1. Every call is bounded (Bounded).
// With roleARN the DR role is assumed for SessionDuration; with mfaSerial
// the code comes from token.
func LoadConfig(ctx context.Context, home, roleARN, mfaSerial string, token func() (string, error)) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(home))
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	awsCfg = Bounded(awsCfg, AttemptTimeout, MaxBackoff)
	if roleARN == "" {
		return awsCfg, nil
	}
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), roleARN, func(ao *stscreds.AssumeRoleOptions) {
		ao.RoleSessionName = "drctl"
		ao.Duration = SessionDuration
		if mfaSerial != "" {
			ao.SerialNumber = aws.String(mfaSerial)
			ao.TokenProvider = token
		}
	})
	awsCfg.Credentials = aws.NewCredentialsCache(provider)
	return awsCfg, nil
}
