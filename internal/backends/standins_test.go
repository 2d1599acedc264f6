package backends

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Events that originate in a Region are forwarded once to the other
// Region's bus and never back; a bus that is down refuses entries.
func TestBusesForwardLoopFree(t *testing.T) {
	dir := t.TempDir()
	a := &EventBus{Region: "us-east-1", Log: filepath.Join(dir, "a.jsonl")}
	b := &EventBus{Region: "us-west-2", Log: filepath.Join(dir, "b.jsonl"), Other: a}
	a.Other = b
	sa := httptest.NewServer(a)
	defer sa.Close()
	c := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(sa.URL),
		Credentials: credentials.NewStaticCredentialsProvider("lab", "lab", "")})
	put := func(origin string) *eventbridge.PutEventsOutput {
		out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
			EventBusName: aws.String("bus"), Source: aws.String("payments"), DetailType: aws.String("PaymentProcessed"),
			Detail: aws.String(`{"originRegion":"` + origin + `"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	put("us-east-1") // originated here: recorded and forwarded
	put("us-west-2") // forwarded from the other Region: recorded only
	for deadline := time.Now().Add(2 * time.Second); b.Received() < 1 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	time.Sleep(50 * time.Millisecond)
	if a.Received() != 2 || b.Received() != 1 {
		t.Fatalf("received a=%d b=%d, want 2 and 1", a.Received(), b.Received())
	}
	a.SetDown(true)
	if out := put("us-east-1"); out.FailedEntryCount != 1 {
		t.Fatalf("a bus that is down accepted the entry: %+v", out)
	}
}

func TestSecretsServesTheAPIKey(t *testing.T) {
	s := httptest.NewServer(NewSecretsManagerHandler(map[string]string{"payment-dr/dev/api-key": "k"}))
	defer s.Close()
	c := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("lab", "lab", "")})
	out, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("payment-dr/dev/api-key")})
	if err != nil || aws.ToString(out.SecretString) != "k" {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("other")}); err == nil {
		t.Fatal("unknown secret answered")
	}
}

// An SDK retry of a create whose first answer was lost finds the table:
// that is success, not a failed test set-up.
func TestCreatingATableTwiceIsTheRetryOfOne(t *testing.T) {
	c, table := Dynamo(t)
	if err := CreateSessionTable(context.Background(), c, table); err != nil {
		t.Fatalf("the same table again: %v", err)
	}
}
