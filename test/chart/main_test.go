// Package chart checks the Helm charts in charts/: that the operator's
// installs what config/ holds (the same CRDs, RBAC rules and admission
// policies), that their values schemas refuse bad values, that their values
// become flags the binaries know, and that what they render is accepted by
// a real API server into namespaces that enforce Pod Security
// "restricted", and survives an uninstall with the incidents and the
// record.
package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	"github.com/incidentops/incident-operator/internal/testenv"
)

const (
	// release gives the names config/default gives: incident-operator-*.
	release   = "incident-operator"
	namespace = "incident-operator"
)

var (
	chartDir = filepath.Join(testenv.RepoRoot(), "charts", "incident-operator")
	// regimesChartDir is the chart of the regulatory regimes, installed
	// after the operator's, whose CRDs it needs.
	regimesChartDir = filepath.Join(testenv.RepoRoot(), "charts", "incident-operator-regimes")
	kubeconfig      string
	cfg             *rest.Config
	// helmHome keeps helm's cache, config and data out of the user's home.
	helmHome string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := exec.LookPath(helmBinary()); err != nil {
		fmt.Fprintf(os.Stderr, "helm not found at %s: run `make helm` (or set HELM)\n", helmBinary())
		return 1
	}
	env, err := testenv.New(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	dir, err := os.MkdirTemp("", "incident-operator-chart")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	helmHome = dir
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// helmBinary is $HELM, or bin/helm as `make helm` builds it.
func helmBinary() string {
	if bin := os.Getenv("HELM"); bin != "" {
		return bin
	}
	return filepath.Join(testenv.RepoRoot(), "bin", "helm")
}

// helm runs helm against the test cluster; the output on failure includes
// stderr.
func helm(args ...string) (string, error) {
	cmd := exec.Command(helmBinary(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"))
	return runCommand(cmd, "")
}

// render is `helm template` of the chart as release incident-operator.
func render(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	return renderChart(t, chartDir, set...)
}

// renderChart is `helm template` of the chart in dir.
func renderChart(t *testing.T, dir string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	return renderRelease(t, release, namespace, dir, set...)
}

// renderRelease is `helm template` of the chart in dir as release name in
// namespace ns.
func renderRelease(t *testing.T, name, ns, dir string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := template(name, ns, dir, setFlags(set)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	objects, err := decode([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

func renderErr(set ...string) (string, error) { return renderDirErr(chartDir, set...) }

func renderDirErr(dir string, set ...string) (string, error) {
	return template(release, namespace, dir, setFlags(set)...)
}

// template runs `helm template` of the chart in dir as release name in
// namespace ns, with more of helm's arguments.
func template(name, ns, dir string, args ...string) (string, error) {
	return helm(append([]string{"template", name, dir, "--namespace", ns}, args...)...)
}

// setFlags is --set for each of set.
func setFlags(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

// kubectl runs the real kubectl against the test cluster with stdin.
func kubectl(stdin string, args ...string) (string, error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	return runCommand(exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...), stdin)
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// runCommand returns stdout and stderr together, so that callers see the
// API server's warnings.
func runCommand(cmd *exec.Cmd, stdin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	var out bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), err)
	}
	return out.String(), nil
}

// decode reads every object of a YAML stream; empty documents are dropped.
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var objects []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, err
		}
		if len(obj.Object) > 0 {
			objects = append(objects, obj)
		}
	}
}

// readConfig decodes the objects of files under config/, named by glob.
func readConfig(t *testing.T, glob string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", glob))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match config/%s (%v)", glob, err)
	}
	var objects []*unstructured.Unstructured
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := decode(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objects = append(objects, decoded...)
	}
	return objects
}

// toStream writes objects as one YAML stream of JSON documents, for kubectl.
func toStream(t *testing.T, objects []*unstructured.Unstructured) string {
	t.Helper()
	var b strings.Builder
	for _, obj := range objects {
		data, err := obj.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

// readChartYAML decodes the chart's Chart.yaml.
func readChartYAML(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objects, err := decode(data)
	if err != nil || len(objects) != 1 {
		t.Fatalf("Chart.yaml: %v", err)
	}
	return objects[0].Object
}
