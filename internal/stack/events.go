package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// PaymentEventSource and the detail types are the contract with the
// payment service, which publishes them after each commit.
const PaymentEventSource = "custom.payment"

var paymentDetailTypes = []string{"Payment Processed", "Payment Failed"}

// newEventBus creates the Region's custom bus and a rule that forwards the
// payment events published in this Region to the other Region's bus,
// through a role allowed only events:PutEvents on that bus. The rule
// matches detail.originRegion = this Region, so an event forwarded here
// from the peer is not sent back: no loop.
func newEventBus(scope constructs.Construct, r region) awsevents.EventBus {
	c := constructs.NewConstruct(scope, jsii.String("Events"))
	bus := awsevents.NewEventBus(c, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(r.names.EventBus(r.name)),
		Description:  jsii.String("payment events in " + r.name),
	})

	peerBusARN := r.arn("events", r.peer, "event-bus/"+r.names.EventBus(r.peer))
	peerBus := awsevents.EventBus_FromEventBusArn(c, jsii.String("PeerBus"), peerBusARN)
	role := awsiam.NewRole(c, jsii.String("ForwardRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Description: jsii.String("forwards payment events from " + r.name + " to " + r.peer),
	})
	managedPolicy(c, "ForwardPolicy", role, &awsiam.PolicyStatementProps{
		Actions: jsii.Strings("events:PutEvents"), Resources: &[]*string{peerBusARN},
	})

	awsevents.NewRule(c, jsii.String("ForwardToPeer"), &awsevents.RuleProps{
		RuleName:    jsii.String("payment-forward-" + r.name + "-" + r.cfg.Environment),
		Description: jsii.String("payment events that originated in " + r.name + " -> " + r.peer),
		EventBus:    bus,
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(PaymentEventSource),
			DetailType: jsii.Strings(paymentDetailTypes...),
			Detail:     &map[string]any{"originRegion": []string{r.name}},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewEventBus(peerBus, &awseventstargets.EventBusProps{Role: role.WithoutPolicyUpdates(nil)})},
	})
	return bus
}
