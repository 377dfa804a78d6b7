// Package plugin drives kubectl incident as people do: the plugin is built
// and put on PATH, and every step goes through the real kubectl, as
// distinct users bound to the shipped roles, against a real control plane
// with the admission policies installed and the operator binary running.
package plugin

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

var (
	kubeconfig string
	sinkURL    string
	// binDir holds the plugin; it is first on PATH.
	binDir       string
	notification = &sink.Sink{}
	mailbox      = &sink.Mailbox{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "incident-plugin-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = filepath.Join(dir, "bin")
	if err := buildPlugin(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	manager, err := testenv.BuildOperator(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// The control plane with the CRDs, the admission policies and the
	// roles people are bound to, as make install and make deploy leave it.
	env, err := testenv.New(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	ctx := context.Background()
	for _, install := range []func(context.Context, *rest.Config) error{testenv.InstallAdmissionPolicies, testenv.InstallUserRoles} {
		if err := install(ctx, cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorKubeconfig := filepath.Join(dir, "operator-kubeconfig")
	if err := testenv.WriteOperatorKubeconfig(context.Background(), cfg, operatorKubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// kubectl finds the plugin on PATH, and reads the test cluster's
	// kubeconfig and no other.
	os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	os.Setenv("KUBECONFIG", kubeconfig)

	srv := httptest.NewServer(notification)
	defer srv.Close()
	sinkURL = srv.URL
	smtpListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	smtpServer := mailbox.NewServer()
	go func() { _ = smtpServer.Serve(smtpListener) }()
	defer smtpServer.Close()

	operator := &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: []string{
		"--smtp-address=" + smtpListener.Addr().String(), "--smtp-from=Incident operator <incidents@example.org>", "--smtp-security=none",
	}}
	if err := operator.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the operator:", err)
		return 1
	}
	code := m.Run()
	_ = operator.Stop()
	if err := testenv.CheckOperatorNeverForbidden(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "operator log:")
		fmt.Fprintln(os.Stderr, operator.Log())
	}
	return code
}

// buildPlugin builds kubectl-incident into dir, with the link kubectl
// runs to complete the plugin's arguments.
func buildPlugin(dir string) error {
	bin := filepath.Join(dir, "kubectl-incident")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-incident")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the plugin: %v\n%s", err, out)
	}
	return os.Symlink(bin, filepath.Join(dir, "kubectl_complete-incident"))
}

func kubectlBinary() string {
	if bin := os.Getenv("KUBECTL"); bin != "" {
		return bin
	}
	return "kubectl"
}

// kubectl runs the real kubectl as the cluster's administrator; the
// output on failure includes stderr.
func kubectl(args ...string) (string, error) {
	stdout, stderr, err := execute(kubectlBinary(), "", args...)
	if err != nil {
		return stdout + stderr, fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return stdout, nil
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

func applyYAML(t *testing.T, ns, yaml string) {
	t.Helper()
	stdout, stderr, err := execute(kubectlBinary(), yaml, "-n", ns, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s%s", err, stdout, stderr)
	}
}

// result is what one run of kubectl incident printed.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("exit: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// incident runs `kubectl incident args...` through the real kubectl, as
// user (the administrator when user is "").
func incident(user string, args ...string) result {
	full := append([]string{"incident"}, args...)
	if user != "" {
		full = append(full, "--as", user)
	}
	stdout, stderr, err := execute(kubectlBinary(), "", full...)
	return result{stdout, stderr, err}
}

// succeeds runs kubectl incident and fails the test when it exits
// non-zero; it returns the standard output.
func succeeds(t *testing.T, user string, args ...string) string {
	t.Helper()
	r := incident(user, args...)
	if r.err != nil {
		t.Fatalf("kubectl incident %s (as %q) failed:\n%s", strings.Join(args, " "), user, r)
	}
	return r.stdout
}

// fails runs kubectl incident and fails the test unless it exits
// non-zero with every want in its error output.
func fails(t *testing.T, user string, args []string, want ...string) result {
	t.Helper()
	r := incident(user, args...)
	if r.err == nil {
		t.Fatalf("kubectl incident %s (as %q) succeeded, want a failure:\n%s", strings.Join(args, " "), user, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("kubectl incident %s (as %q): stderr lacks %q:\n%s", strings.Join(args, " "), user, w, r)
		}
	}
	return r
}

func execute(bin, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// eventually retries check until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Users, each bound in every namespace newNamespace makes to one of the
// roles config/rbac/user_roles.yaml ships.
const (
	reporter    = "rob"  // incident-reporter
	responder   = "rita" // incident-responder
	policyAdmin = "pat"  // incident-policy-admin
	viewer      = "vic"  // incident-viewer
)

// newNamespace makes a namespace with the test policies, their webhook
// Secret pointing at the sink, and the four users bound to their roles.
func newNamespace(t *testing.T, ns string) {
	t.Helper()
	mustKubectl(t, "create", "namespace", ns)
	args := []string{"-n", ns, "create", "secret", "generic", "hooks"}
	for _, receiver := range []string{"internal-audit", "asset-desk", "desk", "managers"} {
		args = append(args, "--from-literal="+receiver+"="+sinkURL+"/"+ns+"/"+receiver)
	}
	mustKubectl(t, args...)
	mustKubectl(t, "-n", ns, "label", "secret", "hooks", "security.incidentops.io/notification-secret=true")
	for user, role := range map[string]string{reporter: "incident-reporter", responder: "incident-responder", policyAdmin: "incident-policy-admin", viewer: "incident-viewer"} {
		mustKubectl(t, "-n", ns, "create", "rolebinding", user+"-"+role, "--clusterrole="+role, "--user="+user)
	}
	applyYAML(t, ns, policies)
	mustKubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=60s", "escalationpolicies", "--all")
}

// policies route the tests' incidents: personal data to Internal Audit
// and the line manager; losses to the asset desk; serious IT incidents to
// the service desk, with an SLA at risk from the start; malware with an
// acknowledgement target of 2s, soon missed; everything else, last, to
// the managers.
const policies = `
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: personal-data}
spec:
  priority: 100
  continue: true
  match: {impact: {personalData: true}}
  receivers: [{name: internal-audit, webhook: {urlSecretRef: {name: hooks, key: internal-audit}}}]
  escalation: {levels: [{notify: [{receiver: internal-audit}, {role: LineManager}]}]}
---
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: lost-equipment}
spec:
  priority: 75
  continue: true
  match: {categories: [Loss, Theft]}
  receivers: [{name: asset-desk, webhook: {urlSecretRef: {name: hooks, key: asset-desk}}}]
  escalation: {levels: [{notify: [{receiver: asset-desk}]}]}
---
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: malware-fast}
spec:
  priority: 60
  continue: true
  match: {categories: [Malware]}
  receivers: [{name: desk, webhook: {urlSecretRef: {name: hooks, key: desk}}}]
  escalation: {levels: [{notify: [{receiver: desk}]}]}
  sla: {targets: [{severities: [Low, Medium, High, Critical], acknowledgeWithin: 2s, hours: Calendar}]}
---
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: service-desk}
spec:
  priority: 50
  match: {severities: [High, Critical], impact: {itRelated: true}}
  receivers: [{name: desk, webhook: {urlSecretRef: {name: hooks, key: desk}}}]
  escalation:
    levels:
    - notify: [{receiver: desk}]
    - {after: 30m, notify: [{receiver: desk}, {role: LineManager}]}
  sla:
    targets:
    - {severities: [High, Critical], acknowledgeWithin: 1h, resolveWithin: 8h, warnBefore: 59m59s, hours: Calendar}
---
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: everyone-else}
spec:
  priority: -100
  receivers: [{name: managers, webhook: {urlSecretRef: {name: hooks, key: managers}}}]
  escalation: {levels: [{notify: [{receiver: managers}]}]}
`

// jsonpath reads one field of an object as the administrator.
func jsonpath(t *testing.T, ns, object, path string) string {
	t.Helper()
	return mustKubectl(t, "-n", ns, "get", object, "-o", "jsonpath={"+path+"}")
}
