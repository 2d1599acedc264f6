// Package dynamo writes payment sessions to the DynamoDB global table.
package dynamo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// API is the part of the DynamoDB client the adapter uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Sessions implements payments.Sessions. Throttling and timeouts are
// retried by the SDK's standard retryer (bounded attempts, jittered
// backoff), which the caller configures on the client.
type Sessions struct {
	Client API
	Table  string
	TTL    time.Duration // how long a session item lives; default 30 days
}

// Put writes the session item of a committed payment. The put is
// conditional on the item holding no later payment of the session (by
// createdAtUs), so a delayed or retried write never rolls a session back;
// writing the same payment again is accepted, so Put is idempotent.
func (s *Sessions) Put(ctx context.Context, p payments.Payment) error {
	ttl := s.TTL
	if ttl == 0 {
		ttl = 30 * 24 * time.Hour
	}
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]types.AttributeValue{
			"sessionId":   &types.AttributeValueMemberS{Value: p.SessionID},
			"paymentId":   &types.AttributeValueMemberS{Value: p.ID},
			"status":      &types.AttributeValueMemberS{Value: p.Status},
			"amount":      &types.AttributeValueMemberN{Value: strconv.FormatInt(p.Amount, 10)},
			"currency":    &types.AttributeValueMemberS{Value: p.Currency},
			"region":      &types.AttributeValueMemberS{Value: p.Region},
			"updatedAt":   &types.AttributeValueMemberS{Value: p.CreatedAt.Format(time.RFC3339Nano)},
			"expiresAt":   &types.AttributeValueMemberN{Value: strconv.FormatInt(p.CreatedAt.Add(ttl).Unix(), 10)},
			"createdAtUs": &types.AttributeValueMemberN{Value: strconv.FormatInt(p.CreatedAt.UnixMicro(), 10)},
		},
		ConditionExpression: aws.String("attribute_not_exists(sessionId) OR attribute_not_exists(createdAtUs) OR createdAtUs <= :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberN{Value: strconv.FormatInt(p.CreatedAt.UnixMicro(), 10)},
		},
	})
	var stale *types.ConditionalCheckFailedException
	if errors.As(err, &stale) {
		return nil // a later payment of this session is already recorded
	}
	return err
}

// Ping checks that the table is reachable and active in this Region.
func (s *Sessions) Ping(ctx context.Context) error {
	out, err := s.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Table)})
	if err != nil {
		return err
	}
	if st := out.Table.TableStatus; st != types.TableStatusActive && st != types.TableStatusUpdating {
		return &notActiveError{status: string(st)}
	}
	return nil
}

type notActiveError struct{ status string }

func (e *notActiveError) Error() string { return "session table is " + e.status }
