package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/naming"
)

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

	peerBusARN := jsii.String(r.names.EventBusARN(r.peer, r.cfg.Account))
	peerBus := awsevents.EventBus_FromEventBusArn(c, jsii.String("PeerBus"), peerBusARN)
	// Only this Region's forwarding rule may assume the role (confused
	// deputy): the rule's ARN is known from its name, so no cycle.
	role := awsiam.NewRole(c, jsii.String("ForwardRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{
				"aws:SourceArn":     r.names.ForwardRuleARN(r.name, r.cfg.Account),
				"aws:SourceAccount": r.cfg.Account,
			}},
		}),
		Description: jsii.String("forwards payment events from " + r.name + " to " + r.peer),
	})
	managedPolicy(c, "ForwardPolicy", role, &awsiam.PolicyStatementProps{
		Actions: jsii.Strings("events:PutEvents"), Resources: &[]*string{peerBusARN},
	})

	awsevents.NewRule(c, jsii.String("ForwardToPeer"), &awsevents.RuleProps{
		RuleName:    jsii.String(r.names.ForwardRule(r.name)),
		Description: jsii.String("payment events that originated in " + r.name + " -> " + r.peer),
		EventBus:    bus,
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(naming.PaymentEventSource),
			DetailType: jsii.Strings(naming.PaymentDetailTypes()...),
			Detail:     &map[string]any{"originRegion": []string{r.name}},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewEventBus(peerBus, &awseventstargets.EventBusProps{Role: role.WithoutPolicyUpdates(nil)})},
	})
	return bus
}

// newOutboxSweep invokes the payment function every minute with
// {"sweepOutbox": true}, so events whose publication failed after the
// commit (EventBridge down) are sent without waiting for the next
// payment. In the Region whose database is read-only there is nothing to
// sweep.
func newOutboxSweep(scope constructs.Construct, r region, fn awslambda.IFunction) {
	awsevents.NewRule(scope, jsii.String("OutboxSweep"), &awsevents.RuleProps{
		RuleName:    jsii.String(r.names.OutboxSweepRule(r.name)),
		Description: jsii.String("publish the payment outbox's due events in " + r.name),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			Event: awsevents.RuleTargetInput_FromObject(map[string]any{"sweepOutbox": true}),
		})},
	})
}
