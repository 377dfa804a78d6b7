package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// make deploy, undeploy and uninstall against a real API server, as a
// platform team runs them. controller-gen is replaced by true: the
// generated files are checked elsewhere, and a test must not rewrite the
// tree.
func TestUndeployAndUninstallKeepIncidentsUnlessConfirmed(t *testing.T) {
	env, err := testenv.New(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		t.Fatal(err)
	}
	clusterEnv := []string{"KUBECONFIG=" + kubeconfig}
	makeTarget := func(args ...string) (string, error) {
		return run(t, clusterEnv, "make", append([]string{"-s", "CONTROLLER_GEN=/bin/true", "LOCALBIN=" + t.TempDir()}, args...)...)
	}
	kubectl := func(args ...string) (string, error) { return run(t, clusterEnv, kubectlBinary(), args...) }
	mustExist := func(what string, args ...string) {
		t.Helper()
		if out, err := kubectl(append([]string{"get"}, args...)...); err != nil {
			t.Errorf("%s is gone: %v\n%s", what, err, out)
		}
	}
	mustBeGone := func(what string, args ...string) {
		t.Helper()
		out, err := kubectl(append([]string{"get"}, args...)...)
		if err == nil || !strings.Contains(out, "NotFound") {
			t.Errorf("%s is still there: %v\n%s", what, err, out)
		}
	}

	for _, target := range [][]string{{"install"}, {"deploy", "IMG=registry.local:5000/incident-operator:v1"}} {
		if out, err := makeTarget(target...); err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(target, " "), err, out)
		}
	}
	// The API server may serve a CRD a moment after it is established.
	if err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, err := kubectl("apply", "-n", "default", "-f", "config/samples/security_v1alpha1_incident.yaml")
		if err != nil && !strings.Contains(out, "ServiceUnavailable") {
			return false, fmt.Errorf("%w: %s", err, out)
		}
		return err == nil, nil
	}); err != nil {
		t.Fatalf("creating the sample incidents: %v", err)
	}
	out, err := kubectl("get", "-n", "incident-operator-system", "deployment/incident-operator-controller-manager", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if err != nil || out != "registry.local:5000/incident-operator:v1" {
		t.Fatalf("deployed image: %q, %v; want registry.local:5000/incident-operator:v1", out, err)
	}

	if out, err := makeTarget("undeploy"); err != nil {
		t.Fatalf("make undeploy: %v\n%s", err, out)
	}
	mustBeGone("the Deployment", "-n", "incident-operator-system", "deployment/incident-operator-controller-manager")
	mustBeGone("the ServiceAccount", "-n", "incident-operator-system", "serviceaccount/incident-operator-controller-manager")
	mustBeGone("the ClusterRole", "clusterrole/incident-operator-manager-role")
	mustExist("the Incident CRD", "crd/incidents.security.incidentops.io")
	mustExist("an incident", "-n", "default", "incident/lost-laptop-fin-0142")
	mustExist("the namespace with the audit signing key", "namespace/incident-operator-system")
	mustExist("the admission policies", "validatingadmissionpolicy")

	for _, target := range []string{"uninstall", "uninstall-crds-and-delete-all-incidents"} {
		out, err := makeTarget(target)
		if err == nil {
			t.Errorf("make %s without CONFIRM=yes succeeded:\n%s", target, out)
		}
		if want := fmt.Sprintf("%6d incidents.security.incidentops.io", 3); !strings.Contains(out, want) {
			t.Errorf("make %s does not say it would delete the 3 incidents (%q):\n%s", target, want, out)
		}
		mustExist("an incident after make "+target+" without CONFIRM=yes", "-n", "default", "incident/lost-laptop-fin-0142")
	}
	if out, err := makeTarget("uninstall-crds-and-delete-all-incidents", "CONFIRM=yes"); err != nil {
		t.Fatalf("make uninstall-crds-and-delete-all-incidents CONFIRM=yes: %v\n%s", err, out)
	}
	mustBeGone("the Incident CRD", "crd/incidents.security.incidentops.io")
}
