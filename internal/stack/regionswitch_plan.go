package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsarcregionswitch"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
)

// The mapper from package arcplan's plan, whose types mirror the
// AWS::ARCRegionSwitch::Plan properties, to the CDK's CfnPlan props, field
// by field. Optional fields arcplan leaves empty (omitempty in its JSON)
// stay unset here, so the synthesized properties are arcplan's JSON
// exactly (TestPlanIsArcplansPlan).

func cfnPlanProps(p arcplan.Plan) *awsarcregionswitch.CfnPlanProps {
	props := &awsarcregionswitch.CfnPlanProps{
		Name:                         jsii.String(p.Name),
		Description:                  optString(p.Description),
		ExecutionRole:                jsii.String(p.ExecutionRole),
		PrimaryRegion:                optString(p.PrimaryRegion),
		Regions:                      jsii.Strings(p.Regions...),
		RecoveryApproach:             jsii.String(p.RecoveryApproach),
		RecoveryTimeObjectiveMinutes: optNumber(p.RecoveryTimeObjectiveMinutes),
	}
	if len(p.AssociatedAlarms) > 0 {
		alarms := map[string]any{}
		for name, a := range p.AssociatedAlarms {
			alarms[name] = &awsarcregionswitch.CfnPlan_AssociatedAlarmProperty{
				AlarmType: jsii.String(a.AlarmType), ResourceIdentifier: jsii.String(a.ResourceIdentifier)}
		}
		props.AssociatedAlarms = alarms
	}
	if len(p.Triggers) > 0 {
		var triggers []any
		for _, t := range p.Triggers {
			triggers = append(triggers, cfnTrigger(t))
		}
		props.Triggers = triggers
	}
	if rc := p.ReportConfiguration; rc != nil {
		var outputs []any
		for _, o := range rc.ReportOutput {
			outputs = append(outputs, &awsarcregionswitch.CfnPlan_ReportOutputConfigurationProperty{
				S3Configuration: &awsarcregionswitch.CfnPlan_S3ReportOutputConfigurationProperty{
					BucketPath: jsii.String(o.S3Configuration.BucketPath), BucketOwner: optString(o.S3Configuration.BucketOwner)}})
		}
		props.ReportConfiguration = &awsarcregionswitch.CfnPlan_ReportConfigurationProperty{ReportOutput: outputs}
	}
	var workflows []any
	for _, w := range p.Workflows {
		var steps []any
		for _, s := range w.Steps {
			steps = append(steps, cfnStep(s))
		}
		workflows = append(workflows, &awsarcregionswitch.CfnPlan_WorkflowProperty{
			WorkflowTargetAction: jsii.String(w.WorkflowTargetAction), WorkflowTargetRegion: optString(w.WorkflowTargetRegion),
			WorkflowDescription: optString(w.WorkflowDescription), Steps: steps})
	}
	props.Workflows = workflows
	return props
}

func cfnTrigger(t arcplan.Trigger) *awsarcregionswitch.CfnPlan_TriggerProperty {
	var conditions []any
	for _, c := range t.Conditions {
		conditions = append(conditions, &awsarcregionswitch.CfnPlan_TriggerConditionProperty{
			AssociatedAlarmName: jsii.String(c.AssociatedAlarmName), Condition: jsii.String(c.Condition)})
	}
	return &awsarcregionswitch.CfnPlan_TriggerProperty{
		Action: jsii.String(t.Action), TargetRegion: jsii.String(t.TargetRegion), Description: optString(t.Description),
		MinDelayMinutesBetweenExecutions: jsii.Number(t.MinDelayMinutesBetweenExecutions), Conditions: conditions}
}

func cfnStep(s arcplan.Step) *awsarcregionswitch.CfnPlan_StepProperty {
	b, out := s.ExecutionBlockConfiguration, &awsarcregionswitch.CfnPlan_ExecutionBlockConfigurationProperty{}
	if c := b.CustomActionLambdaConfig; c != nil {
		var lambdas []any
		for _, l := range c.Lambdas {
			lambdas = append(lambdas, &awsarcregionswitch.CfnPlan_LambdasProperty{Arn: jsii.String(l.Arn)})
		}
		cfg := &awsarcregionswitch.CfnPlan_CustomActionLambdaConfigurationProperty{Lambdas: lambdas, RegionToRun: jsii.String(c.RegionToRun),
			RetryIntervalMinutes: jsii.Number(c.RetryIntervalMinutes), TimeoutMinutes: optNumber(c.TimeoutMinutes)}
		if c.Ungraceful != nil {
			cfg.Ungraceful = &awsarcregionswitch.CfnPlan_LambdaUngracefulProperty{Behavior: jsii.String(c.Ungraceful.Behavior)}
		}
		out.CustomActionLambdaConfig = cfg
	}
	if c := b.ExecutionApprovalConfig; c != nil {
		out.ExecutionApprovalConfig = &awsarcregionswitch.CfnPlan_ExecutionApprovalConfigurationProperty{
			ApprovalRole: jsii.String(c.ApprovalRole), TimeoutMinutes: optNumber(c.TimeoutMinutes)}
	}
	if c := b.GlobalAuroraConfig; c != nil {
		cfg := &awsarcregionswitch.CfnPlan_GlobalAuroraConfigurationProperty{Behavior: jsii.String(c.Behavior),
			GlobalClusterIdentifier: jsii.String(c.GlobalClusterIdentifier), DatabaseClusterArns: jsii.Strings(c.DatabaseClusterArns...),
			TimeoutMinutes: optNumber(c.TimeoutMinutes)}
		if c.Ungraceful != nil {
			cfg.Ungraceful = &awsarcregionswitch.CfnPlan_GlobalAuroraUngracefulProperty{Ungraceful: jsii.String(c.Ungraceful.Ungraceful)}
		}
		out.GlobalAuroraConfig = cfg
	}
	if c := b.Route53HealthCheckConfig; c != nil {
		var sets []any
		for _, rs := range c.RecordSets {
			sets = append(sets, &awsarcregionswitch.CfnPlan_Route53ResourceRecordSetProperty{
				RecordSetIdentifier: jsii.String(rs.RecordSetIdentifier), Region: jsii.String(rs.Region)})
		}
		cfg := &awsarcregionswitch.CfnPlan_Route53HealthCheckConfigurationProperty{HostedZoneId: jsii.String(c.HostedZoneId),
			RecordName: jsii.String(c.RecordName), TimeoutMinutes: optNumber(c.TimeoutMinutes)}
		if len(sets) > 0 {
			cfg.RecordSets = sets
		}
		out.Route53HealthCheckConfig = cfg
	}
	return &awsarcregionswitch.CfnPlan_StepProperty{Name: jsii.String(s.Name), Description: optString(s.Description),
		ExecutionBlockType: jsii.String(s.ExecutionBlockType), ExecutionBlockConfiguration: out}
}

// optString and optNumber leave an optional property unset where
// arcplan's JSON omits it (the zero value).
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

func optNumber(f float64) *float64 {
	if f == 0 {
		return nil
	}
	return jsii.Number(f)
}
