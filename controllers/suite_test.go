package controllers_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// k8sClient talks to the test API server directly, never through a cache,
// so that assertions see what is stored.
var k8sClient client.Client

// mailbox is the SMTP server the operator's email channel delivers to: on
// loopback, STARTTLS with a certificate the operator is told to trust, and
// a login that the operator reads from a Secret.
var mailbox = &sink.Mailbox{Username: "incident-operator", Password: "smtp-password-do-not-leak"}

// operatorLog holds everything the operator logged, for tests that check
// what it says.
var operatorLog lockedBuffer

// operatorNamespace holds the operator's own Secrets.
const operatorNamespace = "incident-operator-system"

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startMailbox serves the mailbox with STARTTLS and returns the operator's
// mail settings for it.
func startMailbox(ctx context.Context) (*controllers.MailOptions, error) {
	serverTLS, pool, err := sink.LoopbackTLS()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := mailbox.NewServer()
	srv.TLSConfig = serverTLS
	go func() { _ = srv.Serve(l) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })

	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}},
		secretWithData(operatorNamespace, "smtp", map[string]string{"username": mailbox.Username, "password": mailbox.Password}),
	} {
		if err := k8sClient.Create(ctx, obj); err != nil {
			return nil, err
		}
	}
	return &controllers.MailOptions{
		Server: notify.MailServer{
			Addr: l.Addr().String(), From: "Incident operator <incidents@council.example>", Security: notify.MailStartTLS,
			TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Timeout: 5 * time.Second,
		},
		CredentialsSecret: &types.NamespacedName{Namespace: operatorNamespace, Name: "smtp"},
	}, nil
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(&operatorLog)))
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

	scheme := testenv.Scheme()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := testenv.InstallAdmissionPolicies(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := testenv.InstallUserRoles(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mail, err := startMailbox(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test mailbox:", err)
		return 1
	}
	// The operator acts as its ServiceAccount, with the RBAC config/default
	// installs, never as the administrator the tests act as.
	account, err := testenv.InstallOperatorAccount(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operator = &testManager{cfg: cfg, account: account.Config, scheme: scheme, mail: mail}
	if err := operator.start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	operator.stop()
	if err := testenv.CheckOperatorNeverForbidden(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

// testClock is the operator's clock: real time plus an offset that tests
// move forward to reach deadlines hours away without waiting for them.
type testClock struct {
	clock.RealClock
	offset atomic.Int64
}

func (c *testClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// advance moves the operator's time forward.
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

var operatorClock = &testClock{}

// testManager runs the operator's controllers in the test process; tests
// can stop and start it as an operator restart would.
type testManager struct {
	// cfg is the administrator's, for tests to act as other users.
	cfg *rest.Config
	// account is the operator's ServiceAccount, which it runs as.
	account *rest.Config
	scheme  *runtime.Scheme
	mail    *controllers.MailOptions
	// auditSink, when set, receives the audit entries.
	auditSink *notify.WebhookTarget
	cancel    context.CancelFunc
	done      chan struct{}
}

var operator *testManager

// logKey signs the audit logs the test operator writes, loaded from its
// Secret as main loads it (created by the suite's first start, while no
// log exists); tests verify with its public half.
var logKey *controllers.LogKey

func (m *testManager) start() error {
	if m.done != nil {
		// One test operator at a time: a start without a stop (cleanups
		// of nested restarts) would leave the earlier one writing.
		m.stop()
	}
	mgr, err := ctrl.NewManager(m.account, ctrl.Options{
		Scheme:  m.scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		// A restarted manager registers the same controllers again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	account, err := client.New(m.account, client.Options{Scheme: m.scheme})
	if err != nil {
		cancel()
		return err
	}
	if logKey, err = controllers.LoadLogKey(ctx, account, logKeySetup); err != nil {
		cancel()
		return err
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		Clock:                   operatorClock,
		Mail:                    m.mail,
		Backoff:                 delivery.Backoff{Initial: 200 * time.Millisecond, Max: time.Second},
		MaxConcurrentReconciles: 4,
		DeliveryConcurrency:     4,
		// The tests' receivers listen on loopback ports.
		CheckDestination:  allowLoopbackPorts,
		Egress:            notify.Egress{AllowLoopback: true},
		LogKey:            logKey,
		LogOrigin:         logKeySetup.Origin,
		AuditSink:         m.auditSink,
		OperatorNamespace: operatorNamespace,
		// Installed only while the test of default regimes runs.
		DefaultRegimes: []string{defaultRegime},
	}); err != nil {
		cancel()
		return err
	}
	m.cancel, m.done = cancel, make(chan struct{})
	go func() {
		defer close(m.done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return nil
}

// allowLoopbackPorts allows the tests' PagerDuty servers, on any loopback
// port, as a policy's own URL.
func allowLoopbackPorts(u string) error {
	if strings.HasPrefix(u, "http://127.0.0.1:") {
		return nil
	}
	return errors.New("it is not a test server on loopback")
}

func (m *testManager) stop() {
	m.cancel()
	<-m.done
}

// eventually polls check until it succeeds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newNamespace creates a namespace of the test's own, so that each test sees
// only its own policies.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// testSink is the project's notification sink served on loopback.
type testSink struct {
	*sink.Sink
	URL string
}

func newSink(t *testing.T) *testSink {
	s := &sink.Sink{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &testSink{Sink: s, URL: srv.URL}
}

// webhookSecret creates a Secret holding the sink's URL for a path.
func webhookSecret(t *testing.T, ns, name, url string) {
	t.Helper()
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: notificationSecret},
		StringData: map[string]string{"url": url},
	})
}

// webhookPolicy is a policy with one webhook receiver notified at level 0.
func webhookPolicy(ns, name string, priority int32, secret string, match securityv1alpha1.PolicyMatch) *securityv1alpha1.EscalationPolicy {
	return &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Priority: priority,
			Match:    match,
			Receivers: []securityv1alpha1.Receiver{{
				Name:    "hook",
				Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: secret, Key: "url"}},
			}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{
				Notify: []securityv1alpha1.NotifyTarget{{Receiver: "hook"}},
			}}},
		},
	}
}

func newIncident(ns, name string, category securityv1alpha1.IncidentCategory, severity securityv1alpha1.Severity) *securityv1alpha1.Incident {
	return &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.IncidentSpec{
			Title:    "Test incident " + name,
			Category: category,
			Severity: severity,
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Priya Shah", Email: "priya@example.org"}},
		},
	}
}

func getIncident(t *testing.T, ns, name string) *securityv1alpha1.Incident {
	t.Helper()
	inc := &securityv1alpha1.Incident{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

// waitForCondition waits until an object's condition has the status and reason.
func waitForCondition(t *testing.T, obj client.Object, conditions func() []metav1.Condition, condType string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(conditions(), condType)
		if c == nil {
			return fmt.Errorf("%s has no %s condition yet", obj.GetName(), condType)
		}
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("%s condition %s is %s/%s (%s), want %s/%s", obj.GetName(), condType, c.Status, c.Reason, c.Message, status, reason)
		}
		found = c
		return nil
	})
	return found
}

// eventsFor lists the events/v1 Events about an object with a reason.
func eventsFor(t *testing.T, ns, name, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func waitForEvent(t *testing.T, ns, name, reason, eventType string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, 20*time.Second, func() error {
		for _, e := range eventsFor(t, ns, name, reason) {
			if e.Type == eventType {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s event %s about %s", eventType, reason, name)
	})
	return found
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func secretWithData(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: notificationSecret}, StringData: data}
}

// update applies mutate to the latest stored object and writes it, retrying
// when the operator's status writes got in between.
func update[T client.Object](t *testing.T, obj T, mutate func(T)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return k8sClient.Update(context.Background(), obj)
	})
	if err != nil {
		t.Fatalf("updating %s: %v", obj.GetName(), err)
	}
}

// notificationSecret labels a Secret for the operator to read.
var notificationSecret = map[string]string{securityv1alpha1.NotificationSecretLabel: "true"}
