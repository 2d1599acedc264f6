package labdir

import (
	"errors"
	"os"
	"testing"
)

func TestParametersAndMissingLab(t *testing.T) {
	d := Dir(t.TempDir())
	if _, err := d.ReadLab(); !errors.Is(err, ErrNoLab) {
		t.Fatalf("empty dir: %v", err)
	}
	if err := d.PutParameter("us-east-1", "/payment/dev/dr/active-region", "us-west-2"); err != nil {
		t.Fatal(err)
	}
	v, ok, err := d.Parameter("us-east-1", "/payment/dev/dr/active-region")
	if err != nil || !ok || v != "us-west-2" {
		t.Fatalf("got %q %v %v", v, ok, err)
	}
	if _, ok, _ := d.Parameter("us-west-2", "/payment/dev/dr/active-region"); ok {
		t.Fatal("parameters leak across Regions")
	}
	if err := d.PutParameter("../x", "/a", "b"); err == nil {
		t.Fatal("a Region with a path was accepted")
	}
	if err := d.PutParameter("us-east-1", "no-slash", "b"); err == nil {
		t.Fatal("a name without / was accepted")
	}
	st, err := os.Stat(d.Path("params", "us-east-1.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("parameter file mode %v %v", st.Mode(), err)
	}
}
