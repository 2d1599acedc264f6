// Package regionswitch is the DR lab's stand-in for ARC Region switch: it
// reads the plan from the template `make synth` wrote and executes its
// workflows with the lab's mechanisms (the Aurora block with the lab's
// replication moves, the Route 53 block with the front door, custom
// actions by invoking the drctl-action handler with ARC's event, manual
// approval through the execution API), and fires the plan's triggers from
// the lab's probes. It implements arcexec.Service, so drctl and the action
// handler talk to it as to ARC.
package regionswitch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/payment-dr/payment-dr/internal/dr/arcplan"
)

// ResourceType is the plan's CloudFormation type.
const ResourceType = "AWS::ARCRegionSwitch::Plan"

// Token stands in the lab for a value CloudFormation resolves at deploy
// time (Ref, Fn::GetAtt, ...): the lab has no deployed value for it.
const Token = "<deploy-time value>"

// Load reads the one Region switch plan of the synthesized templates in
// dir (cdk.out).
func Load(dir string) (arcplan.Plan, string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		return arcplan.Plan{}, "", err
	}
	sort.Strings(paths)
	var found []string
	var plan arcplan.Plan
	for _, path := range paths {
		p, ok, err := planIn(path)
		if err != nil {
			return arcplan.Plan{}, "", err
		}
		if ok {
			plan = p
			found = append(found, path)
		}
	}
	switch len(found) {
	case 0:
		return arcplan.Plan{}, "", fmt.Errorf("no %s in the templates of %s (run make synth)", ResourceType, dir)
	case 1:
		return plan, found[0], nil
	}
	return arcplan.Plan{}, "", fmt.Errorf("%d templates in %s hold a %s (%s): the lab runs one plan", len(found), dir, ResourceType, strings.Join(found, ", "))
}

func planIn(path string) (arcplan.Plan, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return arcplan.Plan{}, false, err
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string          `json:"Type"`
			Properties json.RawMessage `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		return arcplan.Plan{}, false, fmt.Errorf("%s: %w", path, err)
	}
	var plans []arcplan.Plan
	for id, r := range tmpl.Resources {
		if r.Type != ResourceType {
			continue
		}
		p, err := Decode(r.Properties)
		if err != nil {
			return arcplan.Plan{}, false, fmt.Errorf("%s: resource %s: %w", path, id, err)
		}
		plans = append(plans, p)
	}
	if len(plans) > 1 {
		return arcplan.Plan{}, false, fmt.Errorf("%s holds %d plans", path, len(plans))
	}
	if len(plans) == 0 {
		return arcplan.Plan{}, false, nil
	}
	return plans[0], true, nil
}

// Decode reads a plan's Properties; intrinsic functions become Token.
func Decode(props json.RawMessage) (arcplan.Plan, error) {
	var raw any
	if err := json.Unmarshal(props, &raw); err != nil {
		return arcplan.Plan{}, err
	}
	if m, ok := raw.(map[string]any); ok {
		delete(m, "Tags") // the stack's tags: nothing to execute
	}
	b, _ := json.Marshal(resolve(raw))
	dec := json.NewDecoder(strings.NewReader(string(b)))
	// A property the lab does not know is a plan it cannot execute as
	// written: refuse it rather than run something else.
	dec.DisallowUnknownFields()
	var p arcplan.Plan
	if err := dec.Decode(&p); err != nil {
		return arcplan.Plan{}, fmt.Errorf("the lab cannot execute this plan: %w", err)
	}
	if len(p.Workflows) == 0 {
		return p, errors.New("the plan has no workflow")
	}
	return p, nil
}

func resolve(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return Token
				}
			}
		}
		for k, e := range t {
			t[k] = resolve(e)
		}
	case []any:
		for i, e := range t {
			t[i] = resolve(e)
		}
	}
	return v
}
