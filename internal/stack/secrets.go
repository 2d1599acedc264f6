package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// dbMasterUser is the Aurora master user name; its password is generated
// by Secrets Manager at deploy time and never appears in a template.
const dbMasterUser = "payments_admin"

// Secrets are generated at deploy time in the primary Region and replicated
// to the secondary under the same name, so either Region's Lambda finds
// them by name even when the other Region is down.
type Secrets struct {
	DB     awssecretsmanager.Secret
	APIKey awssecretsmanager.Secret
}

func newSecrets(scope constructs.Construct, r region, key awskms.IKey) Secrets {
	c := constructs.NewConstruct(scope, jsii.String("Secrets"))
	// The replica is encrypted with the secondary Region's AWS-managed
	// Secrets Manager key: a customer key there would have to exist before
	// this (primary) stack deploys, which would invert the deploy order.
	replicas := &[]*awssecretsmanager.ReplicaRegion{{Region: jsii.String(r.peer)}}
	db := awssecretsmanager.NewSecret(c, jsii.String("DBMaster"), &awssecretsmanager.SecretProps{
		SecretName:    jsii.String(r.names.DBSecretName()),
		Description:   jsii.String("Aurora global database master credentials (generated)"),
		EncryptionKey: key,
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(`{"username":"` + dbMasterUser + `"}`),
			GenerateStringKey:    jsii.String("password"),
			PasswordLength:       jsii.Number(32),
			// Characters MySQL clients and DSNs mishandle.
			ExcludeCharacters: jsii.String(`"@/\'` + "`" + `:;?#%&+`),
		},
		ReplicaRegions: replicas,
		RemovalPolicy:  r.removal(awscdk.RemovalPolicy_RETAIN),
	})
	apiKey := awssecretsmanager.NewSecret(c, jsii.String("APIKey"), &awssecretsmanager.SecretProps{
		SecretName:    jsii.String(r.names.APIKeySecretName()),
		Description:   jsii.String("payment API key (generated); clients send it as x-api-key"),
		EncryptionKey: key,
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(40),
			ExcludePunctuation: jsii.Bool(true),
		},
		ReplicaRegions: replicas,
		RemovalPolicy:  r.removal(awscdk.RemovalPolicy_RETAIN),
	})
	suppress(db, "AwsSolutions-SMG4", "Not rotated automatically yet: the master password of a global database changes on the writer while Lambdas in both Regions hold connections; rotation needs a multi-user scheme (tracked in the README's open items)")
	suppress(apiKey, "AwsSolutions-SMG4", "Clients hold this key; rotating it without a two-key overlap would lock them out. Rotation is a planned operation (README's open items)")
	return Secrets{DB: db, APIKey: apiKey}
}

// secretARNPattern matches a named secret in a Region regardless of the
// random suffix Secrets Manager appends.
func secretARNPattern(r region, inRegion, name string) *string {
	return r.arn("secretsmanager", inRegion, "secret:"+name+"-??????")
}
