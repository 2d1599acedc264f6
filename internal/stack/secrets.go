package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

// Secrets are generated at deploy time in the primary Region and replicated
// to the secondary under the same name, so either Region's Lambda finds
// them by name even when the other Region is down.
type Secrets struct {
	DB     awssecretsmanager.Secret // master user: Aurora and the migration function
	AppDB  awssecretsmanager.Secret // the payment service's own user, created by the migration
	APIKey awssecretsmanager.Secret
}

func newSecrets(scope constructs.Construct, r region, key awskms.IKey) Secrets {
	c := constructs.NewConstruct(scope, jsii.String("Secrets"))
	// The replica is encrypted with the secondary Region's AWS-managed
	// Secrets Manager key: a customer key there would have to exist before
	// this (primary) stack deploys, which would invert the deploy order.
	replicas := &[]*awssecretsmanager.ReplicaRegion{{Region: jsii.String(r.peer)}}
	// A generated password with the user name fixed, for each database user.
	dbUser := func(id, name, user, description string) awssecretsmanager.Secret {
		return awssecretsmanager.NewSecret(c, jsii.String(id), &awssecretsmanager.SecretProps{
			SecretName:    jsii.String(name),
			Description:   jsii.String(description),
			EncryptionKey: key,
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				SecretStringTemplate: jsii.String(`{"username":"` + user + `"}`),
				GenerateStringKey:    jsii.String("password"),
				PasswordLength:       jsii.Number(32),
				// Characters MySQL clients and DSNs mishandle.
				ExcludeCharacters: jsii.String(`"@/\'` + "`" + `:;?#%&+`),
			},
			ReplicaRegions: replicas,
			RemovalPolicy:  r.removal(awscdk.RemovalPolicy_RETAIN),
		})
	}
	db := dbUser("DBMaster", r.names.DBSecretName(), naming.DBMasterUser, "Aurora global database master credentials (generated); only the migration function reads them")
	app := dbUser("DBApp", r.names.AppDBSecretName(), naming.DBAppUser, "the payment service's database user (generated); the migration function creates the user with this password")
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
	suppress(app, "AwsSolutions-SMG4", "Not rotated automatically yet: the payment Lambdas of both Regions connect with this user; rotation needs the alternating-users scheme (README's open items)")
	suppress(apiKey, "AwsSolutions-SMG4", "Clients hold this key; rotating it without a two-key overlap would lock them out. Rotation is a planned operation (README's open items)")
	return Secrets{DB: db, AppDB: app, APIKey: apiKey}
}
