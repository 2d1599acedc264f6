package naming

import "strings"

// Route is one route of the payment API, as an API Gateway HTTP API route
// key "METHOD /path" names it.
type Route struct{ Method, Path string }

// APIRoutes are the payment API's public routes: the stack declares them
// in API Gateway, and the lab's gateway forwards only them. The service's
// other entry points (migrations, sweeps, replays) are direct
// invocations, never routes.
var APIRoutes = []Route{{"POST", "/payments"}, {"GET", "/payments/{id}"}, {"GET", "/health"}}

// Matches reports whether a request's method and path match r: a {name}
// segment matches one non-empty path segment.
func (r Route) Matches(method, path string) bool {
	if method != r.Method {
		return false
	}
	want, got := strings.Split(r.Path, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") {
			if got[i] == "" {
				return false
			}
			continue
		}
		if w != got[i] {
			return false
		}
	}
	return true
}
