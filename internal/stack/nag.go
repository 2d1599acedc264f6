package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyNag checks every construct of app against the AWS Solutions and
// PCI DSS 3.2.1 rule packs. Findings become error annotations unless a
// suppression with its reason (suppressions.go) covers them.
func ApplyNag(app constructs.Construct) {
	props := &cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(false)}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(props), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewPCIDSS321Checks(props), nil)
}

// NagErrors returns the unsuppressed cdk-nag errors (and any other error
// annotation) recorded in the cloud assembly at outdir, sorted, as
// "stack path: message". It reads the assembly's files (manifest.json and
// each stack's metadata file), a stable format, rather than the deprecated
// in-memory message types.
func NagErrors(outdir string) ([]string, error) {
	var manifest struct {
		Artifacts map[string]struct {
			Type         string                 `json:"type"`
			Metadata     map[string][]metaEntry `json:"metadata"`
			MetadataFile string                 `json:"additionalMetadataFile"`
		} `json:"artifacts"`
	}
	if err := readJSON(filepath.Join(outdir, "manifest.json"), &manifest); err != nil {
		return nil, err
	}
	var out []string
	for name, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		meta := a.Metadata
		if f := a.MetadataFile; f != "" {
			var extra map[string][]metaEntry
			if err := readJSON(filepath.Join(outdir, f), &extra); err != nil {
				return nil, err
			}
			meta = extra
			for path, entries := range a.Metadata {
				meta[path] = append(meta[path], entries...)
			}
		}
		for path, entries := range meta {
			for _, e := range entries {
				if e.Type == "aws:cdk:error" {
					out = append(out, fmt.Sprintf("%s %s: %v", name, path, e.Data))
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

type metaEntry struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// suppress records that a cdk-nag rule does not apply to construct (and
// its children), with the reason a reviewer can check. appliesTo narrows
// an IAM5/IAM4 suppression to the named findings (e.g. "Resource::*").
func suppress(construct constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]interface{}, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}
