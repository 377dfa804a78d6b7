package e2e

import (
	"encoding/json"
	"testing"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// kubectl version works against the control plane the tests and make dev
// run: hack/build-control-plane.sh stamps kube-apiserver with its release,
// where an unstamped build reports v0.0.0-master+$Format:%H$, which kubectl
// cannot parse.
func TestKubectlVersionAgainstTheControlPlane(t *testing.T) {
	out := mustKubectl(t, "version", "--output=json")
	var v struct {
		ServerVersion struct {
			GitVersion, Major, Minor string
		} `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("kubectl version --output=json: %v\n%s", err, out)
	}
	if want := "v" + testenv.KubeVersion; v.ServerVersion.GitVersion != want {
		t.Errorf("the control plane reports %q, want %q", v.ServerVersion.GitVersion, want)
	}
	if v.ServerVersion.Major != "1" || v.ServerVersion.Minor == "" {
		t.Errorf("the control plane reports major %q minor %q", v.ServerVersion.Major, v.ServerVersion.Minor)
	}
}
