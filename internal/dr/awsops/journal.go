package awsops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/dr/runlog"
)

// JournalKeyPrefix marks drctl's items in the session table; payment
// sessions never start with it.
const JournalKeyPrefix = "drctl-run#"

// journalRetention is how long the table's TTL keeps a journal item.
const journalRetention = 90 * 24 * time.Hour

// JournalMirror keeps a run's journal as one item of the session global
// table (sessionId "drctl-run#<run-id>"). The table is replicated to both
// Regions, so the journal survives the loss of either one and of the
// machine that started the run. It implements runlog.Mirror.
type JournalMirror struct {
	Table string
	// Regions is the order to try: the run's target first (the Region
	// expected to be alive), then the other.
	Regions []string
	Clients map[string]DynamoDBAPI
	Now     func() time.Time
}

// JournalMirror returns the mirror for a run moving the writer to target.
func (a *AWS) JournalMirror(target string) *JournalMirror {
	m := &JournalMirror{Table: a.names().SessionTable(), Regions: []string{target, a.Cfg.Other(target)}, Clients: map[string]DynamoDBAPI{}, Now: a.Now}
	for r, c := range a.Regions {
		m.Clients[r] = c.DynamoDB
	}
	return m
}

// Put writes the item in the first Region that accepts it, only if the
// stored item is older than data's journal version (a conditional write
// on the item's version attribute): a second drctl driving the same run
// gets runlog.ErrConflict instead of overwriting the first.
func (m *JournalMirror) Put(ctx context.Context, id string, data []byte) error {
	var j struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(data, &j); err != nil || j.Version <= 0 {
		return fmt.Errorf("journal mirror: %s has no version (%v)", id, err)
	}
	now := m.Now()
	version := &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(j.Version, 10)}
	item := map[string]ddbtypes.AttributeValue{
		"sessionId": &ddbtypes.AttributeValueMemberS{Value: JournalKeyPrefix + id},
		"journal":   &ddbtypes.AttributeValueMemberS{Value: string(data)},
		"version":   version,
		"updatedAt": &ddbtypes.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339Nano)},
		"expiresAt": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(journalRetention).Unix(), 10)},
	}
	var errs []error
	for _, r := range m.Regions {
		_, err := m.Clients[r].PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(m.Table), Item: item,
			ConditionExpression:       aws.String("attribute_not_exists(sessionId) OR #v < :v"),
			ExpressionAttributeNames:  map[string]string{"#v": "version"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": version},
		})
		var cond *ddbtypes.ConditionalCheckFailedException
		switch {
		case err == nil:
			return nil
		case errors.As(err, &cond):
			return fmt.Errorf("%s: version %d of %s is not newer than the stored one: %w", r, j.Version, id, runlog.ErrConflict)
		}
		errs = append(errs, fmt.Errorf("%s: %w", r, err))
	}
	return fmt.Errorf("PutItem %s %s%s: %w", m.Table, JournalKeyPrefix, id, errors.Join(errs...))
}

// Get reads the item, strongly consistent within each Region, trying the
// Regions in order; runlog.ErrNotFound if no Region has it.
func (m *JournalMirror) Get(ctx context.Context, id string) ([]byte, error) {
	var errs []error
	for _, r := range m.Regions {
		out, err := m.Clients[r].GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(m.Table),
			Key:            map[string]ddbtypes.AttributeValue{"sessionId": &ddbtypes.AttributeValueMemberS{Value: JournalKeyPrefix + id}},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r, err))
			continue
		}
		if v, ok := out.Item["journal"].(*ddbtypes.AttributeValueMemberS); ok {
			return []byte(v.Value), nil
		}
	}
	if len(errs) == len(m.Regions) {
		return nil, fmt.Errorf("GetItem %s %s%s: %w", m.Table, JournalKeyPrefix, id, errors.Join(errs...))
	}
	return nil, runlog.ErrNotFound
}

var _ runlog.Mirror = (*JournalMirror)(nil)
