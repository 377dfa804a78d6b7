// Package deploy checks the Makefile's deployment targets with the real
// make and kubectl: the image make deploy writes into the Deployment, and
// that make undeploy and make uninstall leave the organisation's incidents
// alone unless told, loudly, to destroy them.
package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// run runs a command in the repository; the output includes stderr.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func kubectlBinary() string {
	if bin := os.Getenv("KUBECTL"); bin != "" {
		return bin
	}
	return "kubectl"
}

// deployedImage is the manager's image in what make deploy would apply.
func deployedImage(t *testing.T, img string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if out, err := run(t, nil, "make", "-s", "deploy-manifests", "IMG="+img, "LOCALBIN="+dir); err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	out, err := run(t, nil, kubectlBinary(), "kustomize", filepath.Join(dir, "deploy", "config", "default"))
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	for _, doc := range strings.Split(out, "\n---\n") {
		if !strings.Contains(doc, "\nkind: Deployment\n") {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image, nil
	}
	t.Fatalf("no Deployment in config/default:\n%s", out)
	return "", nil
}

func TestDeployUsesTheImageAsGiven(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := map[string]struct {
		img, want string
	}{
		"registry with a port":              {img: "registry.local:5000/incident-operator:v1", want: "registry.local:5000/incident-operator:v1"},
		"registry with a port, no tag":      {img: "registry.local:5000/incident-operator", want: "registry.local:5000/incident-operator:latest"},
		"default":                           {img: "ghcr.io/incidentops/incident-operator:v0.1.0", want: "ghcr.io/incidentops/incident-operator:v0.1.0"},
		"digest":                            {img: "registry.local:5000/incident-operator@" + digest, want: "registry.local:5000/incident-operator@" + digest},
		"tag and digest":                    {img: "registry.local:5000/team/incident-operator:v1@" + digest, want: "registry.local:5000/team/incident-operator:v1@" + digest},
		"name alone, as a local engine has": {img: "incident-operator:dev", want: "incident-operator:dev"},
		"a tag YAML would read as a number": {img: "registry.local:5000/incident-operator:1.0", want: "registry.local:5000/incident-operator:1.0"},
		"a tag of digits":                   {img: "incident-operator:20261123", want: "incident-operator:20261123"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := deployedImage(t, tc.img)
			if err != nil {
				t.Fatalf("make deploy-manifests IMG=%s: %v", tc.img, err)
			}
			if got != tc.want {
				t.Errorf("IMG=%s deploys %s, want %s", tc.img, got, tc.want)
			}
		})
	}
}

func TestDeployRefusesWhatIsNoImage(t *testing.T) {
	for _, img := range []string{"incident-operator:", "registry.local:5000/incident-operator@v1", "registry.local:5000/",
		"http://registry.local:5000/incident-operator:v1", "registry.local:5000/Incident-Operator:v1", "incident-operator@sha256:abc"} {
		if got, err := deployedImage(t, img); err == nil {
			t.Errorf("IMG=%s was accepted as %s", img, got)
		}
	}
}

// hack/operator-objects.sh is what make undeploy deletes: every object of
// config/default but the CRDs and the namespace.
func TestUndeployDeletesOnlyTheOperator(t *testing.T) {
	rendered, err := run(t, nil, kubectlBinary(), "kustomize", "config/default")
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, rendered)
	}
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "operator-objects.sh"))
	cmd.Stdin = strings.NewReader(rendered)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	kinds := func(yaml string) map[string]int {
		n := map[string]int{}
		for _, line := range strings.Split(yaml, "\n") {
			if kind, ok := strings.CutPrefix(line, "kind: "); ok {
				n[kind]++
			}
		}
		return n
	}
	all, deleted := kinds(rendered), kinds(string(out))
	for kind, count := range all {
		want := count
		if kind == "CustomResourceDefinition" || kind == "Namespace" {
			want = 0
		}
		if deleted[kind] != want {
			t.Errorf("make undeploy deletes %d of the %d %s objects of config/default, want %d", deleted[kind], count, kind, want)
		}
	}
	if all["Deployment"] == 0 || all["CustomResourceDefinition"] == 0 {
		t.Fatalf("config/default renders no Deployment or no CRD; the test reads it wrong:\n%v", all)
	}
}
