// Package gitops judges the objects the running operator writes with the
// Argo CD health checks of config/argocd/health, run as Argo CD runs them,
// and with kstatus, which Flux uses. With -update it stores the objects as
// the fixtures of config/argocd/health's own tests.
package gitops

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/incidentops/incident-operator/config/argocd/health"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

var update = flag.Bool("update", false, "store the judged objects as config/argocd/health/testdata fixtures")

var kubeconfig string

func TestMain(m *testing.M) {
	flag.Parse()
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
	dir, err := os.MkdirTemp("", "incident-operator-gitops")
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
	operatorKubeconfig := filepath.Join(dir, "operator-kubeconfig")
	if err := testenv.WriteOperatorKubeconfig(context.Background(), cfg, operatorKubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, args := range [][]string{
		{"apply", "--server-side", "-k", filepath.Join(testenv.RepoRoot(), "config", "crd")},
		{"wait", "--for=condition=established", "--timeout=60s", "crd", "--all"},
		{"apply", "--server-side", "-k", testenv.AdmissionDir()},
	} {
		if out, err := kubectl(args...); err != nil {
			fmt.Fprintln(os.Stderr, out, err)
			return 1
		}
	}

	mailbox := &sink.Mailbox{}
	smtpListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	smtpServer := mailbox.NewServer()
	go func() { _ = smtpServer.Serve(smtpListener) }()
	defer smtpServer.Close()
	binary, err := testenv.BuildOperator(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A failed delivery is retried an hour later: an incident whose
	// receiver fails stays Reconciling while the test looks at it.
	operator := &testenv.Operator{Binary: binary, Kubeconfig: operatorKubeconfig, Args: []string{
		"--smtp-address=" + smtpListener.Addr().String(), "--smtp-from=Incident operator <incidents@example.org>", "--smtp-security=none",
		"--retry-initial-delay=1h", "--retry-max-delay=1h",
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
		fmt.Fprintln(os.Stderr, "operator log:\n"+operator.Log())
	}
	return code
}

func kubectl(args ...string) (string, error) {
	return kubectlStdin("", args...)
}

func kubectlStdin(stdin string, args ...string) (string, error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

func mustApply(t *testing.T, namespace, manifest string) {
	t.Helper()
	if out, err := kubectlStdin(manifest, "apply", "-n", namespace, "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// judged is an object as the API server returns it, with the verdicts of
// its Argo CD health check and of kstatus.
type judged struct {
	obj     map[string]any
	argo    health.Status
	kstatus status.Status
}

func judge(t *testing.T, namespace, resource string) (judged, error) {
	t.Helper()
	args := []string{"get", resource, "-o", "json"}
	if namespace != "" {
		args = append(args, "-n", namespace)
	}
	out, err := kubectl(args...)
	if err != nil {
		return judged{}, fmt.Errorf("%w: %s", err, out)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(out)); err != nil {
		return judged{}, err
	}
	script, err := health.Script(u.GetKind())
	if err != nil {
		return judged{}, err
	}
	argo, err := health.Evaluate(script, u.Object)
	if err != nil {
		return judged{}, fmt.Errorf("%s health check: %w", u.GetKind(), err)
	}
	res, err := status.Compute(u)
	if err != nil {
		return judged{}, err
	}
	return judged{obj: u.Object, argo: argo, kstatus: res.Status}, nil
}

// expect waits until the health check of an object says want, then checks
// its message is that of the condition messageFrom (or contains it, for a
// kind without conditions) and that kstatus agrees; with -update it stores
// the object as fixture.
func expect(t *testing.T, namespace, resource, want, messageFrom, fixture string) {
	t.Helper()
	var j judged
	var err error
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err = judge(t, namespace, resource)
		if err == nil && j.argo.Status == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: health %+v, want %s (%v)", namespace, resource, j.argo, want, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	conditions, _, _ := unstructured.NestedSlice(j.obj, "status", "conditions")
	wantMessage := messageFrom
	for _, c := range conditions {
		if c, ok := c.(map[string]any); ok && c["type"] == messageFrom {
			wantMessage, _ = c["message"].(string)
		}
	}
	if !strings.Contains(j.argo.Message, wantMessage) || j.argo.Message == "" {
		t.Errorf("%s/%s: health message %q, want %q", namespace, resource, j.argo.Message, wantMessage)
	}
	kstatusFor := map[string]status.Status{"Healthy": status.CurrentStatus, "Degraded": status.FailedStatus, "Progressing": status.InProgressStatus}
	if j.kstatus != kstatusFor[want] {
		t.Errorf("%s/%s: Argo CD health %s but kstatus %s", namespace, resource, want, j.kstatus)
	}
	t.Logf("%s/%s: %s %q (kstatus %s)", namespace, resource, j.argo.Status, j.argo.Message, j.kstatus)
	if *update {
		storeFixture(t, j.obj, fixture)
	}
}

// storeFixture writes the object without what only makes it noisy:
// managed fields, uid and resource version.
func storeFixture(t *testing.T, obj map[string]any, name string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	u.SetManagedFields(nil)
	u.SetUID("")
	u.SetResourceVersion("")
	b, err := json.MarshalIndent(u.Object, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(testenv.RepoRoot(), "config", "argocd", "health", "testdata", name+".json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHealthOfWhatTheOperatorWrites(t *testing.T) {
	delivered := &sink.Sink{}
	ok := httptest.NewServer(delivered)
	t.Cleanup(ok.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)

	for _, ns := range []string{"council", "unrouted", "failing"} {
		if out, err := kubectl("create", "namespace", ns); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	secret := func(name, url string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %s
  labels: {security.incidentops.io/notification-secret: "true"}
stringData: {url: %q}
`, name, url)
	}
	// The council's cluster policy applies to the namespaces labelled for
	// the council and reads its receivers' Secrets from the operator's
	// namespace.
	if out, err := kubectl("label", "namespace", "council", "security.incidentops.io/organisation=council"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The operator's namespace exists: its ServiceAccount lives there.
	mustApply(t, "incident-operator-system", secret("internal-audit-webhook", ok.URL+"/internal-audit-webhook"))
	for _, name := range []string{"internal-audit-webhook", "service-desk-webhook", "line-managers-webhook"} {
		mustApply(t, "council", secret(name, ok.URL+"/"+name))
	}
	mustApply(t, "failing", secret("hook", failing.URL))

	// The samples: every kind, as the operator reports them working, and
	// the UK GDPR regime, which opens Filings for the personal data
	// breaches among them.
	if out, err := kubectl("apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "regimes", "uk-gdpr.yaml")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := kubectl("apply", "-n", "council", "-k", filepath.Join(testenv.RepoRoot(), "config", "samples")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// What needs a person: a policy whose expression does not compile,
	// evidence of no incident, a
	// report in a time zone that does not exist, an incident no policy
	// matches; and what is still under way: an incident whose receiver
	// fails, to be retried.
	mustApply(t, "council", `apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: broken-expression}
spec:
  match: {expression: "incident.spec.("}
  receivers: [{name: hook, webhook: {urlSecretRef: {name: service-desk-webhook, key: url}}}]
  escalation: {levels: [{notify: [{receiver: hook}]}]}
---
apiVersion: security.incidentops.io/v1alpha1
kind: ClusterEscalationPolicy
metadata: {name: broken-cluster-expression}
spec:
  namespaceSelector: {matchLabels: {security.incidentops.io/organisation: council}}
  match: {expression: "incident.spec.("}
  receivers: [{name: hook, webhook: {urlSecretRef: {name: internal-audit-webhook, key: url}}}]
  escalation: {levels: [{notify: [{receiver: hook}]}]}
---
apiVersion: security.incidentops.io/v1alpha1
kind: Evidence
metadata: {name: of-no-incident}
spec:
  incident: no-such-incident
  kind: DiskImage
  description: Image of a laptop whose incident was never reported
  sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  storageLocation: Evidence safe 3
  collectedAt: "2026-11-20T10:30:00Z"
---
apiVersion: security.incidentops.io/v1alpha1
kind: Filing
metadata: {name: of-no-incident}
spec:
  incident: no-such-incident
  regime: uk-gdpr
  stage: notification
  citation: UK GDPR Art. 33(1)
  recipient: SupervisoryAuthority
  agreementsRequired: 1
---
apiVersion: security.incidentops.io/v1alpha1
kind: IncidentReport
metadata: {name: in-atlantis}
spec:
  report: Summary
  schedule: "0 9 * * 1"
  timeZone: Europe/Atlantis
  period: 168h
  receivers: [{name: audit, webhook: {urlSecretRef: {name: internal-audit-webhook, key: url}}}]
`)
	incident := `apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata: {name: phishing-mail}
spec:
  title: Phishing mail opened in Revenues
  category: Phishing
  severity: Medium
  reporter: {name: Sam Lee, email: sam.lee@example.org}
`
	mustApply(t, "unrouted", incident)
	mustApply(t, "failing", `apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: all}
spec:
  receivers: [{name: hook, webhook: {urlSecretRef: {name: hook, key: url}}}]
  escalation: {levels: [{notify: [{receiver: hook}]}]}
---
`+incident)

	expect(t, "council", "incident/lost-laptop-fin-0142", "Healthy", "Ready", "incident-healthy")
	expect(t, "unrouted", "incident/phishing-mail", "Degraded", "Stalled", "incident-degraded-unrouted")
	expect(t, "failing", "incident/phishing-mail", "Progressing", "Reconciling", "incident-progressing-delivery-retried")
	expect(t, "council", "escalationpolicy/lost-equipment", "Healthy", "Ready", "escalationpolicy-healthy")
	expect(t, "council", "escalationpolicy/broken-expression", "Degraded", "Stalled", "escalationpolicy-degraded")
	expect(t, "", "clusterescalationpolicy/personal-data-breach", "Healthy", "Ready", "clusterescalationpolicy-healthy")
	expect(t, "", "clusterescalationpolicy/broken-cluster-expression", "Degraded", "Stalled", "clusterescalationpolicy-degraded")
	expect(t, "council", "asset/laptop-fin-0142", "Healthy", "Ready", "asset-healthy")
	expect(t, "council", "evidence/fin-0142-disk-image", "Healthy", "Ready", "evidence-healthy")
	expect(t, "council", "evidence/of-no-incident", "Degraded", "Stalled", "evidence-degraded")
	expect(t, "council", "incidentreport/weekly-control-document", "Healthy", "Ready", "incidentreport-healthy")
	expect(t, "council", "incidentreport/in-atlantis", "Degraded", "Stalled", "incidentreport-degraded")
	expect(t, "council", "department/finance", "Healthy", "Ready", "department-healthy")
	expect(t, "", "regulatoryregime/sector-regulator", "Healthy", "Ready", "regulatoryregime-healthy")
	expect(t, "council", "filing/lost-laptop-fin-0142.uk-gdpr.notification", "Healthy", "Ready", "filing-healthy")
	expect(t, "council", "filing/of-no-incident", "Degraded", "Stalled", "filing-degraded")
	batch, err := kubectl("get", "-n", "council", "auditbatches", "-o", "jsonpath={.items[0].metadata.name}")
	if err != nil || batch == "" {
		t.Fatalf("no audit batch in council: %v %s", err, batch)
	}
	expect(t, "council", "auditbatch/"+batch, "Healthy", "Entries from 0 of the namespace's audit log", "auditbatch-healthy")
}
