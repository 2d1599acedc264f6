package awsops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/payment-dr/payment-dr/internal/dr/journal"
)

// JournalKeyPrefix marks drctl's items in the session table; payment
// sessions never start with it.
const JournalKeyPrefix = "drctl-run#"

// journalRetention is how long the table's TTL keeps a journal item.
const journalRetention = 90 * 24 * time.Hour

// JournalMirror keeps a run's journal as one item of the session global
// table (sessionId "drctl-run#<run-id>"). The table is replicated to both
// Regions, so the journal survives the loss of either one and of the
// machine that started the run. It implements journal.Mirror.
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

// Put writes the item in the first Region that accepts it.
func (m *JournalMirror) Put(ctx context.Context, id string, data []byte) error {
	now := m.Now()
	item := map[string]ddbtypes.AttributeValue{
		"sessionId": &ddbtypes.AttributeValueMemberS{Value: JournalKeyPrefix + id},
		"journal":   &ddbtypes.AttributeValueMemberS{Value: string(data)},
		"updatedAt": &ddbtypes.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339Nano)},
		"expiresAt": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(journalRetention).Unix(), 10)},
	}
	var errs []error
	for _, r := range m.Regions {
		_, err := m.Clients[r].PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(m.Table), Item: item})
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", r, err))
	}
	return fmt.Errorf("PutItem %s %s%s: %w", m.Table, JournalKeyPrefix, id, errors.Join(errs...))
}

// Get reads the item, strongly consistent within each Region, trying the
// Regions in order; journal.ErrNotFound if no Region has it.
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
	return nil, journal.ErrNotFound
}

var _ journal.Mirror = (*JournalMirror)(nil)
