package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// freePort is a loopback address nothing listens on yet.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The operator serves metrics only to callers the API server authenticates
// and allows to get /metrics, as kubebuilder's scaffolds do, and is ready
// only once its caches have synced.
func TestMetricsNeedAnAuthorisedCallerAndReadinessWaitsForCaches(t *testing.T) {
	ns := "metrics-" + fmt.Sprint(time.Now().UnixNano())
	mustKubectl(t, "create", "namespace", ns)
	metricsAddr, probeAddr := freePort(t), freePort(t)
	// A second operator that watches an empty namespace, so it does not
	// compete with the one the other tests use.
	op := &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: []string{
		"--watch-namespaces=" + ns, "--metrics-bind-address=" + metricsAddr, "--health-probe-bind-address=" + probeAddr,
	}}
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop() })

	// Ready, with the informers' check among the checks.
	var readyz string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + probeAddr + "/readyz?verbose")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				readyz = string(body)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the operator did not become ready:\n%s", op.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(readyz, "[+]informers ok") {
		t.Errorf("readyz does not check the informers:\n%s", readyz)
	}

	// The metrics endpoint serves HTTPS with a self-signed certificate.
	get := func(token string) (int, string) { t.Helper(); return getMetrics(t, metricsAddr, token) }
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", code)
	}
	mustKubectl(t, "-n", ns, "create", "serviceaccount", "stranger")
	stranger := strings.TrimSpace(mustKubectl(t, "-n", ns, "create", "token", "stranger"))
	if code, _ := get(stranger); code != http.StatusForbidden {
		t.Errorf("with a token not allowed to get /metrics: %d, want 403", code)
	}
	// Another account, granted the role before it first asks: the operator
	// remembers a denial for a while.
	token := metricsReaderToken(t, ns)
	deadline = time.Now().Add(20 * time.Second)
	for {
		code, body := get(token)
		if code == http.StatusOK && strings.Contains(body, "controller_runtime_reconcile_total") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the metrics-reader role: %d, want 200 with the controller's metrics", code)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The state gauges count what the cache holds: an incident no policy
	// matches is open and Unrouted.
	file := filepath.Join(t.TempDir(), "incident.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata: {name: unmatched}
spec: {title: Nobody routes this, category: Loss, severity: High, reporter: {name: Priya Shah}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "-n", ns, "create", "-f", file)
	want := `incidentops_open_incidents{category="Loss",namespace="` + ns + `",phase="Unrouted",severity="High"} 1`
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, body := get(token)
		if strings.Contains(body, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics do not show %s", want)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Watching one namespace, it looks nothing up in the others, whose
	// objects it has no cache of. (Conflicts are expected: the suite's
	// operator works on the same incident.)
	if bad := "unknown namespace for the cache"; strings.Contains(op.Log(), bad) {
		t.Errorf("the operator watching %s logged %q:\n%s", ns, bad, op.Log())
	}
}

// getMetrics asks the operator's metrics endpoint at addr for /metrics with
// a bearer token, waiting for the endpoint to listen; it returns the status
// and the body.
func getMetrics(t *testing.T, addr, token string) (int, string) {
	t.Helper()
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The metrics server may start a moment after the probes.
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		resp, err := insecure.Do(req)
		if err != nil {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("GET /metrics: %v", err)
			}
			continue
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
}

// metricsReaderToken is a token of a new service account in ns that is
// bound to config/rbac's metrics-reader role, as a Prometheus would be.
func metricsReaderToken(t *testing.T, ns string) string {
	t.Helper()
	mustKubectl(t, "-n", ns, "create", "serviceaccount", "prometheus")
	mustKubectl(t, "apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "metrics_reader_role.yaml"))
	mustKubectl(t, "create", "clusterrolebinding", ns+"-prometheus", "--clusterrole=metrics-reader", "--serviceaccount="+ns+":prometheus")
	t.Cleanup(func() { _, _ = kubectl("delete", "clusterrolebinding", ns+"-prometheus") })
	return strings.TrimSpace(mustKubectl(t, "-n", ns, "create", "token", "prometheus"))
}
