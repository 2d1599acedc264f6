package drpolicy

import "strings"

// Allows reports whether one of the statements allows action on resource
// for a request carrying context (condition key -> values), with IAM's
// matching: action names are case-insensitive, resources case-sensitive,
// and in both "*" matches any run of characters and "?" any one
// (IAM User Guide, "IAM JSON policy elements: Action" and "Resource").
// Every condition operator used here is a string equality.
func Allows(statements []Statement, action, resource string, context map[string][]string) bool {
	for _, s := range statements {
		if s.allows(action, resource, context) {
			return true
		}
	}
	return false
}

func (s Statement) allows(action, resource string, context map[string][]string) bool {
	if !anyMatch(s.Actions, action, true) || !anyMatch(s.Resources, resource, false) {
		return false
	}
	for _, c := range s.Conditions {
		if c.Operator != "StringEquals" || !overlap(c.Values, context[c.Key]) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, value string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, value = strings.ToLower(p), strings.ToLower(value)
		}
		if wildcard(p, value) {
			return true
		}
	}
	return false
}

// wildcard matches value against pattern's "*" and "?".
func wildcard(pattern, value string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(value); i >= 0; i-- {
				if wildcard(pattern[1:], value[i:]) {
					return true
				}
			}
			return false
		case '?':
			if value == "" {
				return false
			}
		default:
			if value == "" || value[0] != pattern[0] {
				return false
			}
		}
		pattern, value = pattern[1:], value[1:]
	}
	return value == ""
}

func overlap(want, got []string) bool {
	for _, w := range want {
		for _, g := range got {
			if w == g {
				return true
			}
		}
	}
	return false
}
