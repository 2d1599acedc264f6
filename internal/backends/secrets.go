package backends

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// SecretsManager answers GetSecretValue like Secrets Manager (JSON 1.1
// protocol, target secretsmanager.GetSecretValue) for fixed values, and
// records which secrets were read. An unknown id gets HTTP 400
// ResourceNotFoundException with Secrets Manager's own message
// (GetSecretValue API Reference, Errors).
type SecretsManager struct {
	URL string // set by NewSecretsManager

	mu     sync.Mutex
	values map[string]string
	reads  []string
}

// NewSecretsManagerHandler serves values (secret id to SecretString).
func NewSecretsManagerHandler(values map[string]string) *SecretsManager {
	v := map[string]string{}
	for id, s := range values {
		v[id] = s
	}
	return &SecretsManager{values: v}
}

func (s *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "this stand-in serves only GetSecretValue")
		return
	}
	var in struct{ SecretId string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		awsError(w, http.StatusBadRequest, "InvalidRequestException", "bad JSON body")
		return
	}
	s.mu.Lock()
	s.reads = append(s.reads, in.SecretId)
	v, ok := s.values[in.SecretId]
	s.mu.Unlock()
	if !ok {
		awsError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"Name": in.SecretId, "SecretString": v,
		"ARN": "arn:aws:secretsmanager:us-east-1:111111111111:secret:" + in.SecretId})
}

// Set adds or replaces a secret.
func (s *SecretsManager) Set(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[id] = value
}

// Reads returns the secret ids requested so far.
func (s *SecretsManager) Reads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reads...)
}
