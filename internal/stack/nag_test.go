package stack

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// TestNagErrorsSeesFindings guards the gate itself: an unencrypted queue
// without TLS enforcement must be reported, and a suppression with a
// reason must silence exactly its rule.
func TestNagErrorsSeesFindings(t *testing.T) {
	dir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
	st := awscdk.NewStack(app, jsii.String("NagProbe"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("us-east-1")},
	})
	q := awssqs.NewQueue(st, jsii.String("Queue"), &awssqs.QueueProps{Encryption: awssqs.QueueEncryption_UNENCRYPTED})
	suppress(q, "AwsSolutions-SQS3", "probe queue: the dead-letter rule is not what this test is about")
	ApplyNag(app)
	app.Synth(nil)
	findings, err := NagErrors(dir)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(findings, "\n")
	if !strings.Contains(all, "AwsSolutions-SQS4") {
		t.Errorf("SSL-enforcement finding not reported:\n%s", all)
	}
	if strings.Contains(all, "AwsSolutions-SQS3") {
		t.Errorf("suppressed rule still reported:\n%s", all)
	}
}
