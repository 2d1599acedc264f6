package backends

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"time"
)

// maxRequestBody bounds one DynamoDB request (the API's own item and batch
// limits are far below it).
const maxRequestBody = 16 << 20

// WholeRequests stands in front of dynalite, the DynamoDB stand-in: it
// forwards a request only once its body has fully arrived, and lets it
// finish even if the client goes away. dynalite throws on a request
// aborted mid-body and the whole process exits, which a payment service
// killed by region-down or an SDK attempt timeout would cause; DynamoDB
// itself shrugs such a client off.
func WholeRequests(upstream string) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	// dynalite (Node's HTTP server) closes a connection idle for 5 s;
	// reusing one it is closing can lose a request it has processed, and
	// a retry then finds its effect (a table created twice). Idle
	// connections are dropped well before.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{IdleConnTimeout: 2 * time.Second, MaxIdleConnsPerHost: 64}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			return // the client went away (or sent too much): nothing reaches dynalite
		}
		req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, u.JoinPath(r.URL.Path).String(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.URL.RawQuery = r.URL.RawQuery
		req.Header = r.Header.Clone()
		req.Host = r.Host
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}), nil
}
