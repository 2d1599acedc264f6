// Package runtimeapi plays the AWS Lambda Runtime API on loopback, enough
// for a provided.al2023 binary built with aws-lambda-go: it hands out the
// events given to Invoke through GET /runtime/invocation/next and returns
// what the binary posts to .../response or .../error. Used by the
// cold-start benchmark and by the payment binary's tests.
package runtimeapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Response is what the function returned for one invocation.
type Response struct {
	Body  []byte
	Error bool // posted to /error (the handler returned an error or panicked)
	At    time.Time
}

type invocation struct {
	id    string
	event []byte
	done  chan Response
}

// Server is a local Runtime API. Addr is the value for AWS_LAMBDA_RUNTIME_API.
type Server struct {
	Addr    string
	srv     *http.Server
	queue   chan invocation
	mu      sync.Mutex
	pending map[string]invocation
	seq     atomic.Int64
}

// Start listens on a free loopback port.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), queue: make(chan invocation), pending: map[string]invocation{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Close stops the server; a function still polling sees its connection end.
func (s *Server) Close() error { return s.srv.Close() }

// Invoke queues one event and waits for the function's reply.
func (s *Server) Invoke(ctx context.Context, event []byte) (Response, error) {
	inv := invocation{id: fmt.Sprintf("req-%d", s.seq.Add(1)), event: event, done: make(chan Response, 1)}
	s.mu.Lock()
	s.pending[inv.id] = inv
	s.mu.Unlock()
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return Response{}, fmt.Errorf("no function polled for the event: %w", ctx.Err())
	}
	select {
	case r := <-inv.done:
		return r, nil
	case <-ctx.Done():
		return Response{}, fmt.Errorf("no reply: %w", ctx.Err())
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/invocation/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		// init/error and anything else: the function failed to start.
		w.WriteHeader(http.StatusAccepted)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	if rest == "next" {
		select {
		case inv := <-s.queue:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:111111111111:function:local")
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
			_, _ = w.Write(inv.event)
		case <-r.Context().Done():
		}
		return
	}
	id, kind, _ := strings.Cut(rest, "/")
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	inv, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	inv.done <- Response{Body: body, Error: kind == "error", At: time.Now()}
}
