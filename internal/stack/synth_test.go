package stack

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/config"
)

// template is one synthesized CloudFormation template.
type template struct {
	Resources map[string]resource       `json:"Resources"`
	Outputs   map[string]map[string]any `json:"Outputs"`
	raw       string
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	DependsOn      any            `json:"DependsOn"`
}

// synthesized is the assembly of the test configuration, built once:
// synthesis starts the jsii kernel and takes seconds.
type synthesized struct {
	cfg       config.Config
	dir       string
	templates map[string]template // by Region, and "global" and "regionswitch"
	nagErrors []string
}

var (
	synthOnce sync.Once
	synthRes  *synthesized
	synthErr  error
)

// testConfig is a production-like configuration: deletion protection left
// at its default (on), so nothing is suppressed for a test environment.
func testConfig() config.Config {
	c := config.Default()
	c.Environment = "prod"
	c.DomainName = "example.com"
	c.AlarmEmail = "oncall@example.com"
	c.ParentHostedZoneID = "Z0123456789PARENTZONE"
	return c
}

// lambdaDir returns a directory holding a real build of the Lambda in
// cmd/<name>: make's build if present, otherwise one built here (with the
// RDS CA bundle written by make's script for the payment service).
func lambdaDir(t testing.TB, name string) string {
	root, _ := filepath.Abs("../..")
	dir := filepath.Join(root, "build", name)
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err == nil {
		return dir
	}
	defer func() {
		if name != "payments" {
			return
		}
		cmd := exec.Command("node", filepath.Join(root, "scripts", "rds-ca-bundle.js"), filepath.Join(dir, RDSCABundle))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("writing the RDS CA bundle (make lambda does it): %v\n%s", err, out)
		}
	}()
	dir = filepath.Join(os.TempDir(), "payment-dr-stack-test-"+name)
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(dir, "bootstrap"), "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/%s: %v\n%s", name, err, out)
	}
	return dir
}

func synthesize(t *testing.T) *synthesized {
	t.Helper()
	synthOnce.Do(func() {
		s := &synthesized{cfg: testConfig(), dir: filepath.Join(os.TempDir(), "payment-dr-stack-test-out"), templates: map[string]template{}}
		_ = os.RemoveAll(s.dir)
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(s.dir)})
		assets := Assets{Payments: lambdaDir(t, "payments"), Evaluate: lambdaDir(t, "drctl-evaluate"), Action: lambdaDir(t, "drctl-action")}
		if synthErr = CheckAssets(assets); synthErr != nil {
			return
		}
		stacks := Build(app, s.cfg, assets)
		ApplyNag(app)
		app.Synth(nil)
		if s.nagErrors, synthErr = NagErrors(s.dir); synthErr != nil {
			return
		}
		for _, st := range stacks.All() {
			data, err := os.ReadFile(filepath.Join(s.dir, *st.ArtifactId()+".template.json"))
			if err != nil {
				synthErr = err
				return
			}
			var tpl template
			if err := json.Unmarshal(data, &tpl); err != nil {
				synthErr = err
				return
			}
			tpl.raw = string(data)
			key := *st.Region()
			switch st {
			case stacks.Global.Stack:
				key = "global"
			case stacks.RegionSwitch.Stack:
				key = "regionswitch" // in the primary Region, beside its stack
			}
			s.templates[key] = tpl
		}
		synthRes = s
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	if synthRes == nil {
		t.Fatal("synthesis failed in an earlier test")
	}
	return synthRes
}

func (tpl template) ofType(typ string) []resource {
	var out []resource
	for _, r := range tpl.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (tpl template) count(typ string) int { return len(tpl.ofType(typ)) }

// one returns the only resource of typ whose properties contain all of
// the given key/values (compared as JSON).
func (tpl template) one(t *testing.T, typ string, match map[string]any) resource {
	t.Helper()
	var found []resource
	for _, r := range tpl.ofType(typ) {
		ok := true
		for k, v := range match {
			if jsonOf(r.Properties[k]) != jsonOf(v) {
				ok = false
			}
		}
		if ok {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s matching %v, found %d", typ, match, len(found))
	}
	return found[0]
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func prop(r resource, path ...string) any {
	var v any = r.Properties
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func isELFArm64(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 20)
	if _, err := f.Read(hdr); err != nil {
		t.Fatal(err)
	}
	// ELF magic, 64-bit, e_machine 0xB7 (AArch64).
	if string(hdr[:4]) != "\x7fELF" || hdr[4] != 2 || hdr[18] != 0xB7 {
		t.Fatalf("%s is not a linux/arm64 ELF binary (host %s/%s)", path, runtime.GOOS, runtime.GOARCH)
	}
}

func contains(s any, sub string) bool { return strings.Contains(jsonOf(s), sub) }
