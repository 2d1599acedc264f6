// Package labdir is the on-disk layout of a DR lab: lab.json (the public
// description scripts and drctl read), state.json (the daemon's ports and
// credentials), the pid files of every process it started and the SSM
// parameter stand-ins.
package labdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Lab is DIR/lab.json, the contract with scripts and drctl.
type Lab struct {
	Environment string            `json:"environment"`
	APIKey      string            `json:"apiKey"`
	FailoverURL string            `json:"failoverURL"`
	Regions     map[string]Region `json:"regions"`
}

// Region is one Region of lab.json.
type Region struct {
	APIURL string `json:"apiURL"` // the public API, through the Region's gateway
	// InvokeURL is the payment service itself, on loopback: the lab's form
	// of invoking the payment function directly (lambda:InvokeFunction),
	// which API Gateway never forwards.
	InvokeURL     string `json:"invokeURL"`
	MySQLAdminDSN string `json:"mysqlAdminDSN"`
	Role          string `json:"role"` // primary or secondary, as started
}

// State is DIR/state.json: what the lab's own commands need to reach the
// daemon and the databases. Credentials are random per lab.
type State struct {
	Config         string            `json:"config"`
	Primary        string            `json:"primary"`
	Secondary      string            `json:"secondary"`
	Control        string            `json:"control"` // daemon's control API host:port
	DNS            string            `json:"dns"`     // DNS server host:port (UDP and TCP)
	FailoverName   string            `json:"failoverName"`
	DBPorts        map[string]int    `json:"dbPorts"`
	LinkPorts      map[string]int    `json:"linkPorts"` // toxiproxy port in front of each Region's database
	APIPorts       map[string]int    `json:"apiPorts"`
	Passwords      map[string]string `json:"passwords"` // per database user
	DynamoEndpoint string            `json:"dynamoEndpoint"`
	// JournalEndpoints are each Region's endpoint of the payment
	// journal's MRSC stand-in.
	JournalEndpoints map[string]string `json:"journalEndpoints"`
	// JournalWitness names the journal's witness member.
	JournalWitness string  `json:"journalWitness"`
	Options        Options `json:"options"`
}

// Options are the flags of `drlab up`, kept for the daemon and status.
type Options struct {
	LinkLatencyMs    int64 `json:"linkLatencyMs"`
	WitnessLatencyMs int64 `json:"witnessLatencyMs"`
	// SecondaryWitnessLatencyMs is the secondary's own, when set.
	SecondaryWitnessLatencyMs *int64 `json:"secondaryWitnessLatencyMs,omitempty"`
	CheckIntervalMs           int64  `json:"checkIntervalMs"`
	FailureThreshold          int    `json:"failureThreshold"`
	TTLMs                     int64  `json:"ttlMs"`
	PaymentsBin               string `json:"paymentsBin"`
	Dynalite                  string `json:"dynalite"`
}

// Dir is a lab directory.
type Dir string

// Path joins elements under the lab directory.
func (d Dir) Path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// ErrNoLab means DIR holds no running lab's description.
var ErrNoLab = errors.New("no lab here (run drlab up --dir DIR first)")

// ReadLab reads DIR/lab.json.
func (d Dir) ReadLab() (Lab, error) {
	var l Lab
	err := d.readJSON("lab.json", &l)
	return l, err
}

// ReadState reads DIR/state.json.
func (d Dir) ReadState() (State, error) {
	var s State
	err := d.readJSON("state.json", &s)
	return s, err
}

func (d Dir) readJSON(name string, v any) error {
	b, err := os.ReadFile(d.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", d, ErrNoLab)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", d.Path(name), err)
	}
	return nil
}

// WriteJSON writes v to DIR/name atomically, readable only by the owner
// (lab.json and state.json carry the lab's throw-away credentials).
func (d Dir) WriteJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(d.Path(name), append(b, '\n'))
}

// AppendJSONLine appends v as one JSON line to the file at path (the
// lab's logs of moves and events): a crash leaves whole lines only, but
// for the last one.
func AppendJSONLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// WriteFileAtomic replaces path with data through a rename, so a reader
// never sees half a file.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// paramMu serialises parameter updates of this process.
var paramMu sync.Mutex

// Parameter reads the SSM parameter stand-in name in region ("" if unset).
func (d Dir) Parameter(region, name string) (string, bool, error) {
	m, err := d.params(region)
	if err != nil {
		return "", false, err
	}
	v, ok := m[name]
	return v, ok, nil
}

// PutParameter writes the SSM parameter stand-in name in region.
func (d Dir) PutParameter(region, name, value string) error {
	if !strings.HasPrefix(name, "/") {
		return fmt.Errorf("parameter name %q must start with /", name)
	}
	paramMu.Lock()
	defer paramMu.Unlock()
	m, err := d.params(region)
	if err != nil {
		return err
	}
	m[name] = value
	return d.WriteJSON(filepath.Join("params", region+".json"), m)
}

func (d Dir) params(region string) (map[string]string, error) {
	if region == "" || strings.ContainsAny(region, `/\.`) {
		return nil, fmt.Errorf("bad Region %q", region)
	}
	m := map[string]string{}
	b, err := os.ReadFile(d.Path("params", region+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parameters of %s: %w", region, err)
	}
	return m, nil
}
