package awslimits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"unicode"
)

// Figure is one measured value against its limit.
type Figure struct {
	Stack   string
	Subject string // what was measured: a logical id, or the stack
	Limit   Limit
	Value   int
	// Estimated: a value had no longest-value rule and was replaced by a
	// conservative guess.
	Estimated bool
}

// Over reports whether the figure crosses its limit.
func (f Figure) Over() bool { return f.Value > f.Limit.Max }

func (f Figure) String() string {
	s := fmt.Sprintf("%s %s: %s %d of %d %s", f.Stack, f.Subject, f.Limit.Name, f.Value, f.Limit.Max, f.Limit.Unit)
	if f.Estimated {
		s += " (estimated)"
	}
	if f.Over() {
		s += " OVER THE LIMIT (" + f.Limit.Source + ", " + f.Limit.URL + ")"
	}
	return s
}

// Over returns the figures that cross their limit.
func Over(figs []Figure) []Figure {
	var out []Figure
	for _, f := range figs {
		if f.Over() {
			out = append(out, f)
		}
	}
	return out
}

// Check measures every stack against every limit of Table.
func Check(stacks []Stack) []Figure {
	var figs []Figure
	for i := range stacks {
		stacks[i].peers = stacks
		figs = append(figs, checkStack(&stacks[i])...)
	}
	return figs
}

func checkStack(s *Stack) []Figure {
	t := s.Template
	body := TemplateBodySize
	if s.UploadedToS3 {
		body = TemplateS3Size
	}
	figs := []Figure{
		{Stack: s.Name, Subject: "template", Limit: body, Value: len(s.Body)},
		{Stack: s.Name, Subject: "template", Limit: Resources, Value: len(t.Resources)},
		{Stack: s.Name, Subject: "template", Limit: Outputs, Value: len(t.Outputs)},
		{Stack: s.Name, Subject: "template", Limit: Parameters, Value: len(t.Parameters)},
	}
	for _, id := range sortedIDs(t.Resources) {
		res := t.Resources[id]
		switch res.Type {
		case "AWS::IAM::ManagedPolicy":
			n, est := policySize(s, res.Properties["PolicyDocument"])
			figs = append(figs, Figure{Stack: s.Name, Subject: id, Limit: ManagedPolicySize, Value: n, Estimated: est})
		case "AWS::IAM::Role":
			figs = append(figs, roleFigures(s, id, res)...)
		case "AWS::Lambda::Function":
			if vars, ok := dig(res.Properties, "Environment", "Variables"); ok {
				n, est := jsonSize(s, vars, false)
				figs = append(figs, Figure{Stack: s.Name, Subject: id, Limit: LambdaEnvSize, Value: n, Estimated: est})
			}
		case "AWS::EC2::SecurityGroup":
			in, out, est := sgRules(t, id, res)
			figs = append(figs, Figure{Stack: s.Name, Subject: id, Limit: SGIngress, Value: in, Estimated: est},
				Figure{Stack: s.Name, Subject: id, Limit: SGEgress, Value: out, Estimated: est})
		}
	}
	return figs
}

// roleFigures: the trust policy, the managed policies attached (in the
// role or by a policy's Roles) and the inline policies (in the role or
// by an AWS::IAM::Policy's Roles) of role id.
func roleFigures(s *Stack, id string, role Resource) []Figure {
	trust, est := policySize(s, role.Properties["AssumeRolePolicyDocument"])
	figs := []Figure{{Stack: s.Name, Subject: id, Limit: TrustPolicySize, Value: trust, Estimated: est}}
	managed, _ := role.Properties["ManagedPolicyArns"].([]any)
	count := len(managed)
	inline, inlineEst := 0, false
	if ps, ok := role.Properties["Policies"].([]any); ok {
		for _, p := range ps {
			pm, _ := p.(map[string]any)
			n, e := policySize(s, pm["PolicyDocument"])
			inline, inlineEst = inline+n, inlineEst || e
		}
	}
	for _, pid := range sortedIDs(s.Template.Resources) {
		p := s.Template.Resources[pid]
		roles, _ := p.Properties["Roles"].([]any)
		if !refersToAny(roles, id) {
			continue
		}
		switch p.Type {
		case "AWS::IAM::ManagedPolicy":
			count++
		case "AWS::IAM::Policy":
			n, e := policySize(s, p.Properties["PolicyDocument"])
			inline, inlineEst = inline+n, inlineEst || e
		}
	}
	return append(figs, Figure{Stack: s.Name, Subject: id, Limit: ManagedPerRole, Value: count},
		Figure{Stack: s.Name, Subject: id, Limit: InlinePerRole, Value: inline, Estimated: inlineEst})
}

// sgRules counts the rules of security group id: in its properties and
// in separate ingress/egress resources naming it. A rule naming a prefix
// list counts as that list's maximum entries (VPC quotas), which the
// template does not hold: such a rule counts as one and marks the
// figures estimated.
func sgRules(t Template, id string, sg Resource) (in, out int, estimated bool) {
	ing, _ := sg.Properties["SecurityGroupIngress"].([]any)
	eg, _ := sg.Properties["SecurityGroupEgress"].([]any)
	in, out = len(ing), len(eg)
	for _, r := range append(append([]any{}, ing...), eg...) {
		estimated = estimated || namesPrefixList(r)
	}
	for _, rid := range sortedIDs(t.Resources) {
		r := t.Resources[rid]
		if !refersTo(r.Properties["GroupId"], id) {
			continue
		}
		switch r.Type {
		case "AWS::EC2::SecurityGroupIngress":
			in++
		case "AWS::EC2::SecurityGroupEgress":
			out++
		default:
			continue
		}
		estimated = estimated || namesPrefixList(r.Properties)
	}
	return in, out, estimated
}

func namesPrefixList(rule any) bool {
	m, _ := rule.(map[string]any)
	return m["SourcePrefixListId"] != nil || m["DestinationPrefixListId"] != nil
}

// policySize is the resolved document's length in non-white-space
// characters, as IAM counts it.
func policySize(s *Stack, doc any) (int, bool) { return jsonSize(s, doc, true) }

func jsonSize(s *Stack, v any, skipSpace bool) (int, bool) {
	r := newResolver(s)
	resolved := r.value(v)
	if str, ok := resolved.(string); ok { // a document given as a JSON string
		var parsed any
		if json.Unmarshal([]byte(str), &parsed) == nil {
			resolved = parsed
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(resolved)
	n := 0
	for _, c := range bytes.TrimRight(buf.Bytes(), "\n") {
		if !skipSpace || !unicode.IsSpace(rune(c)) {
			n++
		}
	}
	return n, r.estimated
}

func refersTo(v any, id string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if ref, ok := m["Ref"].(string); ok {
		return ref == id
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		return ga[0] == id
	}
	return false
}

func refersToAny(list []any, id string) bool {
	for _, v := range list {
		if refersTo(v, id) {
			return true
		}
	}
	return false
}

func dig(m map[string]any, keys ...string) (any, bool) {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func sortedIDs(m map[string]Resource) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
