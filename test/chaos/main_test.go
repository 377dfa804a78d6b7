// Package chaos tests the operator's delivery guarantees when things break:
// the operator is killed, receivers fail or hang, the API server restarts.
// The operator runs as its own process against a real control plane.
package chaos_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

var (
	env        *envtest.Environment
	restConfig *rest.Config
	k8sClient  client.Client
	kubeconfig string
	// operatorKubeconfig acts as the operator's ServiceAccount.
	operatorKubeconfig string
	manager            string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "incident-operator-chaos")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	if env, err = testenv.New(true); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A certificate directory of our own survives an API server restart, so
	// the restarted server keeps its port and the certificates the operator
	// already trusts.
	certDir := filepath.Join(dir, "apiserver")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.ControlPlane.GetAPIServer().CertDir = certDir
	// A server that does not stop within this is killed, as a crash would.
	env.ControlPlane.GetAPIServer().StopTimeout = 5 * time.Second
	if restConfig, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := testenv.InstallAdmissionPolicies(context.Background(), restConfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	scheme := testenv.Scheme()
	if k8sClient, err = client.New(restConfig, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorKubeconfig = filepath.Join(dir, "operator-kubeconfig")
	if err := testenv.WriteOperatorKubeconfig(context.Background(), restConfig, operatorKubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if manager, err = testenv.BuildOperator(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := testenv.CheckOperatorNeverForbidden(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// startOperator runs an operator process that watches only ns, with fast
// retries, and stops it when the test ends; the log is printed on failure.
func startOperator(t *testing.T, ns string, extra ...string) *testenv.Operator {
	t.Helper()
	op := &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: append([]string{
		"--watch-namespaces=" + ns, "--retry-initial-delay=200ms", "--retry-max-delay=1s", "--zap-log-level=info",
	}, extra...)}
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = op.Stop()
		if t.Failed() {
			t.Logf("operator log:\n%s", tail(op.Log(), 200))
		}
	})
	return op
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// newSink serves the project's notification sink on loopback.
func newSink(t *testing.T) (*sink.Sink, string) {
	s := &sink.Sink{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// newPausingSink is a sink that answers each delivery after pause, so that a
// kill is likely to land between a delivery arriving and the operator
// recording it: the case that makes duplicates.
func newPausingSink(t *testing.T, pause time.Duration) (*sink.Sink, string) {
	s, url := newSink(t)
	s.Fail = func(int) int {
		time.Sleep(pause)
		return 0
	}
	return s, url
}

// webhookPolicy is a policy whose receivers are webhooks at the given URLs,
// all notified at level 0.
func webhookPolicy(t *testing.T, ns, name string, priority int32, cont bool, timeout time.Duration, urls map[string]string) {
	t.Helper()
	data := map[string]string{}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Priority:   priority,
			Continue:   cont,
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{}}},
			Delivery:   &securityv1alpha1.Delivery{MaxAttempts: 100},
		},
	}
	for receiver, url := range urls {
		data[receiver] = url
		hook := &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: name, Key: receiver}}
		if timeout > 0 {
			hook.Timeout = securityv1alpha1.NewDuration(timeout)
		}
		policy.Spec.Receivers = append(policy.Spec.Receivers, securityv1alpha1.Receiver{Name: receiver, Webhook: hook})
		policy.Spec.Escalation.Levels[0].Notify = append(policy.Spec.Escalation.Levels[0].Notify, securityv1alpha1.NotifyTarget{Receiver: receiver})
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: notificationSecret}, StringData: data}
	for _, obj := range []client.Object{secret, policy} {
		if err := k8sClient.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

func newIncident(ns, name string) *securityv1alpha1.Incident {
	return &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.IncidentSpec{
			Title:    "Burst incident " + name,
			Category: securityv1alpha1.CategoryMalware,
			Severity: securityv1alpha1.SeverityHigh,
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Sam Jones"}},
			Impact:   securityv1alpha1.Impact{ITRelated: true},
		},
	}
}

// createRetrying creates obj, retrying while the API server is unreachable.
func createRetrying(ctx context.Context, obj client.Object) error {
	for {
		err := k8sClient.Create(ctx, obj.DeepCopyObject().(client.Object))
		if err == nil || ctx.Err() != nil {
			return err
		}
		if strings.Contains(err.Error(), "already exists") {
			return nil // an earlier attempt landed before the connection broke
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createSteadily creates n incidents in ns, named prefix-000 on, one every
// interval, and reports on the channel when it is done.
func createSteadily(ctx context.Context, ns, prefix string, n int, interval time.Duration) <-chan error {
	created := make(chan error, 1)
	go func() {
		for i := range n {
			if err := createRetrying(ctx, newIncident(ns, fmt.Sprintf("%s-%03d", prefix, i))); err != nil {
				created <- err
				return
			}
			time.Sleep(interval)
		}
		created <- nil
	}()
	return created
}

// waitAllNotified waits until all want incidents in ns are Notified=True and
// returns them.
func waitAllNotified(t *testing.T, ns string, want int, timeout time.Duration) []securityv1alpha1.Incident {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var list securityv1alpha1.IncidentList
		err := k8sClient.List(context.Background(), &list, client.InNamespace(ns))
		notified := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, securityv1alpha1.ConditionNotified) {
				notified++
			}
		}
		if err == nil && len(list.Items) == want && notified == want {
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d of %d incidents notified (list error: %v)", timeout, notified, want, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkDeliveries asserts that every delivery an incident records reached
// the sink under its key, and that every copy the sink got of one
// notification carries the same key. It returns how many copies were
// duplicates.
func checkDeliveries(t *testing.T, incidents []securityv1alpha1.Incident, perIncident int, got []sink.Delivery) (duplicates int) {
	t.Helper()
	byKey := map[string]int{}
	keysOf := map[string]map[string]bool{} // incident/policy/receiver -> keys seen
	for _, d := range got {
		byKey[d.Key]++
		id := d.Message.Incident.Name + "/" + d.Message.Policy + "/" + d.Message.Receiver
		if keysOf[id] == nil {
			keysOf[id] = map[string]bool{}
		}
		keysOf[id][d.Key] = true
	}
	for id, keys := range keysOf {
		if len(keys) != 1 {
			t.Errorf("%s arrived under %d different keys; a duplicate must carry the original's key", id, len(keys))
		}
	}
	for _, inc := range incidents {
		if len(inc.Status.Notifications) != perIncident {
			t.Errorf("%s records %d deliveries, want %d: %+v", inc.Name, len(inc.Status.Notifications), perIncident, inc.Status.Notifications)
		}
		for _, rec := range inc.Status.Notifications {
			if rec.State != securityv1alpha1.DeliveryDelivered {
				t.Errorf("%s: delivery to %s is %s", inc.Name, rec.Receiver, rec.State)
			}
			if byKey[rec.Key] == 0 {
				t.Errorf("%s: delivery to %s (key %s) never reached the receiver", inc.Name, rec.Receiver, rec.Key)
			}
			duplicates += max(byKey[rec.Key]-1, 0)
		}
	}
	return duplicates
}

// notificationSecret labels a Secret for the operator to read.
var notificationSecret = map[string]string{securityv1alpha1.NotificationSecretLabel: "true"}
