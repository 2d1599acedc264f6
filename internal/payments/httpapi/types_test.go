package httpapi_test

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

type (
	ddbAttr = types.AttributeValue
	ddbS    = types.AttributeValueMemberS
)
