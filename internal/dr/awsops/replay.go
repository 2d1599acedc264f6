package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/payment-dr/payment-dr/internal/naming"
	"github.com/payment-dr/payment-dr/internal/payments"
)

// ReplayInvokeTimeout bounds the replay's invocation: the payment
// function's timeout, plus its Init, which Lambda limits to 10 s and
// otherwise repeats within the invocation (Lambda Developer Guide,
// "Understanding the Lambda execution environment lifecycle"), plus the
// round trip. The client must wait that long: "your client might
// disconnect during synchronous invocation while it waits for a
// response" (Lambda API Reference, Invoke).
const ReplayInvokeTimeout = naming.PaymentFunctionTimeout + 15*time.Second

// replayInvocation sends the invocation once, waiting up to
// ReplayInvokeTimeout. The SDK retries an attempt that timed out or lost
// its connection as a new request, which is a new invocation while the
// first one still runs; whether to ask again is the replay step's
// decision (dr.Controller's replay-journal step, plan.Wait).
func replayInvocation(o *lambda.Options) {
	o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1)
	o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(ReplayInvokeTimeout)
}

// ReplayWindowAfter implements dr.JournalReplayer: a synchronous
// invocation of region's payment function with {"replayWindowAfter":
// {"oldRegion": old}}, answered with payments.ReplayBounds.
func (a *AWS) ReplayWindowAfter(ctx context.Context, region, old string) (payments.ReplayBounds, error) {
	var b payments.ReplayBounds
	err := a.invokePayments(ctx, region, map[string]any{"replayWindowAfter": map[string]string{"oldRegion": old}}, &b)
	return b, err
}

// invokePayments invokes region's payment function synchronously, once
// (replayInvocation), and decodes its answer into out. A function error
// comes back as HTTP 200 with the X-Amz-Function-Error header and an
// {"errorMessage", "errorType"} payload (Lambda API Reference, Invoke),
// reported here as an error naming the function.
func (a *AWS) invokePayments(ctx context.Context, region string, event, out any) error {
	name := a.names().PaymentFunction(region)
	payload, err := json.Marshal(event)
	if err != nil {
		return err
	}
	res, err := a.Regions[region].Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeRequestResponse, Payload: payload,
	}, replayInvocation)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	if fe := aws.ToString(res.FunctionError); fe != "" {
		var e struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		_ = json.Unmarshal(res.Payload, &e)
		return fmt.Errorf("%s: failed (%s %s): %s", name, fe, e.Type, e.Message)
	}
	if err := json.Unmarshal(res.Payload, out); err != nil {
		return fmt.Errorf("%s: answered %q: %w", name, res.Payload, err)
	}
	return nil
}

// ReplayJournal implements dr.JournalReplayer: a synchronous invocation
// (RequestResponse) of region's payment function with the event
// {"replayJournal": {"from", "to"}} (invokePayments). The answer may be Incomplete (payments.ReplayJournal): the caller asks
// again for the same window.
func (a *AWS) ReplayJournal(ctx context.Context, region string, from, to time.Time) (payments.ReplayResult, error) {
	var res payments.ReplayResult
	err := a.invokePayments(ctx, region, map[string]payments.ReplayWindow{"replayJournal": {From: from.UTC(), To: to.UTC()}}, &res)
	return res, err
}
