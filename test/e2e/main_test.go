// Package e2e drives the operator as users do: the operator binary runs as
// its own process against a real control plane, and every step goes through
// the real kubectl.
package e2e

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

	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

var (
	// manager is the operator binary the tests run.
	manager    string
	kubeconfig string
	// operatorKubeconfig acts as the operator's ServiceAccount.
	operatorKubeconfig string
	notification       *sink.Sink
	sinkURL            string
	// mailbox is the plain-SMTP relay on loopback the operator mails to.
	mailbox = &sink.Mailbox{}
	// operatorMetrics is where the operator serves its metrics, over HTTPS
	// to authorised callers, as in a cluster.
	operatorMetrics string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := testenv.New(false)
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

	dir, err := os.MkdirTemp("", "incident-operator-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	notification = &sink.Sink{}
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

	// Install the CRDs as a user would, then start the operator binary.
	if out, err := kubectl("apply", "--server-side", "-k", filepath.Join(testenv.RepoRoot(), "config", "crd")); err != nil {
		fmt.Fprintln(os.Stderr, "installing CRDs:", out, err)
		return 1
	}
	if out, err := kubectl("wait", "--for=condition=established", "--timeout=60s", "crd", "--all"); err != nil {
		fmt.Fprintln(os.Stderr, "waiting for CRDs:", out, err)
		return 1
	}
	if out, err := kubectl("apply", "-k", testenv.AdmissionDir()); err != nil {
		fmt.Fprintln(os.Stderr, "installing admission policies:", out, err)
		return 1
	}
	if err := testenv.WaitForAdmissionPolicies(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorKubeconfig = filepath.Join(dir, "operator-kubeconfig")
	if err := testenv.WriteOperatorKubeconfig(context.Background(), cfg, operatorKubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	manager, err = testenv.BuildOperator(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	metricsListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorMetrics = metricsListener.Addr().String()
	metricsListener.Close()
	// Leader election as deployed, so that its metrics are exported too.
	operator := &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: []string{
		"--smtp-address=" + smtpListener.Addr().String(), "--smtp-from=Incident operator <incidents@example.org>", "--smtp-security=none",
		"--metrics-bind-address=" + operatorMetrics, "--leader-elect",
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

// kubectl runs the real kubectl against the test cluster.
func kubectl(args ...string) (string, error) { return kubectlStdin("", args...) }

// kubectlStdin runs kubectl with stdin; the output on failure includes stderr.
func kubectlStdin(stdin string, args ...string) (string, error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// table parses kubectl's column output into rows keyed by the first column.
func table(t *testing.T, out string) (header []string, rows map[string][]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 {
		t.Fatalf("no output")
	}
	header = strings.Fields(lines[0])
	rows = map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > 0 {
			rows[f[0]] = f
		}
	}
	return header, rows
}
