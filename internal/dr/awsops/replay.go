package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/payment-dr/payment-dr/internal/payments"
)

// ReplayJournal implements dr.JournalReplayer: a synchronous invocation
// (RequestResponse) of region's payment function with the event
// {"replayJournal": {"from", "to"}}. A function error comes back as HTTP
// 200 with the X-Amz-Function-Error header and an {"errorMessage",
// "errorType"} payload (Lambda API Reference, Invoke), reported here as
// an error naming the function.
func (a *AWS) ReplayJournal(ctx context.Context, region string, from, to time.Time) (payments.ReplayResult, error) {
	name := a.names().PaymentFunction(region)
	payload, err := json.Marshal(map[string]payments.ReplayWindow{"replayJournal": {From: from.UTC(), To: to.UTC()}})
	if err != nil {
		return payments.ReplayResult{}, err
	}
	out, err := a.Regions[region].Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeRequestResponse, Payload: payload,
	})
	if err != nil {
		return payments.ReplayResult{}, fmt.Errorf("invoke %s: %w", name, err)
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		var e struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		_ = json.Unmarshal(out.Payload, &e)
		return payments.ReplayResult{}, fmt.Errorf("%s: replay failed (%s %s): %s", name, fe, e.Type, e.Message)
	}
	var res payments.ReplayResult
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		return payments.ReplayResult{}, fmt.Errorf("%s: replay answered %q: %w", name, out.Payload, err)
	}
	return res, nil
}
