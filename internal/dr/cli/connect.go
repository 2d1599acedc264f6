package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/dr/awsops"
	"github.com/payment-dr/payment-dr/internal/dr/canary"
	"github.com/payment-dr/payment-dr/internal/naming"
)

// ConnectAWS builds the Cloud of the AWS account: default credentials, or the DR role
// assumed with MFA; the drill canary reads the API key from Secrets
// Manager in the drill's target Region unless a file is given. A run
// depends on its target Region first: reads, STS and the journal mirror
// go there before anywhere else.
func ConnectAWS(ctx context.Context, cfg config.Config, o Options) (Conn, error) {
	// --lab given to a binary whose Connect does not know the lab must
	// never fall through to the AWS account.
	if o.Lab != "" {
		return Conn{}, badUsage("--lab %s: this drctl connects to AWS only; run the drctl built from cmd/drctl, which connects the DR lab", o.Lab)
	}
	home := o.To
	if home == "" {
		home = cfg.PrimaryRegion
		if o.From == cfg.PrimaryRegion {
			home = cfg.SecondaryRegion // reconcile: the old primary's Region is the one in doubt
		}
	}
	awsCfg, err := awsops.LoadConfig(ctx, home, o.RoleARN, o.MFASerial, stscreds.StdinTokenProvider)
	if err != nil {
		return Conn{}, err
	}
	cloud := awsops.New(cfg, awsCfg)
	n := naming.New(cfg.Environment, cfg.DomainName)
	c := &canary.HTTP{WriteURL: "https://" + n.APIHost(), RegionURL: func(r string) string { return "https://" + n.RegionalAPIHost(r) }}
	if o.APIKeyFile != "" {
		b, err := os.ReadFile(o.APIKeyFile)
		if err != nil {
			return Conn{}, fmt.Errorf("--api-key-file: %w", err)
		}
		c.APIKey = strings.TrimSpace(string(b))
	} else if o.Canary {
		sc := awsCfg.Copy()
		sc.Region = o.To
		out, err := secretsmanager.NewFromConfig(sc).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(n.APIKeySecretName())})
		if err != nil {
			return Conn{}, fmt.Errorf("the drill's canaries need the API key (secret %s in %s, or --api-key-file): %w", n.APIKeySecretName(), o.To, err)
		}
		c.APIKey = aws.ToString(out.SecretString)
	}
	// ARC's data plane in home is asked first, except by a start, which
	// goes to its execution's Region first (awsops.RegionSwitch).
	conn := Conn{Cloud: cloud, Canary: c, Reconcile: cloud.ReconcileData, ARC: awsops.NewRegionSwitch(cfg, awsCfg, home)}
	// --via arc reads the custom actions' journal through the mirror.
	if o.JournalDDB || o.Via == ViaARC {
		conn.Mirror = cloud.JournalMirror(o.To)
	}
	return conn, nil
}

func apiHost(cfg config.Config) string { return naming.New(cfg.Environment, cfg.DomainName).APIHost() }

func regionalHost(cfg config.Config, region string) string {
	return naming.New(cfg.Environment, cfg.DomainName).RegionalAPIHost(region)
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
