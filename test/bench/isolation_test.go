package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// TestIsolation measures how fast a canary namespace's incidents are
// notified, from report to the receiver: alone, while another namespace
// has incidents whose webhook accepts connections and answers nothing, and
// while the audit sink does the same. A hanging neighbour or sink should
// cost the canaries nothing: the ratios to the baseline, measured in the
// same run, are printed, and one over 2 fails.
func TestIsolation(t *testing.T) {
	hanging, canaries, hold := 40, 5, 60*time.Second
	if testing.Short() {
		hanging, canaries, hold = 10, 3, 20*time.Second
	}
	nsA, nsB := newNamespace(t, "hanging"), newNamespace(t, "canary")
	stuck := newHanging(t)
	hookPolicy(t, nsA, stuck.URL, hold)
	fine, fineURL := newSink(t)
	hookPolicy(t, nsB, fineURL, 0)
	startWatching(t, nsA+","+nsB)

	baseline := canaryLatency(t, nsB, "baseline", canaries, fine)

	for i := range hanging {
		if err := k8sClient.Create(context.Background(), incident(nsA, i)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, time.Minute, func() bool { return stuck.received.Load() >= int32(min(hanging, 16)) })
	held := time.Now()
	neighbour := canaryLatency(t, nsB, "neighbour", canaries, fine)
	if since := time.Since(held); since >= hold {
		t.Errorf("the canaries took %s, past the hanging webhook's timeout of %s", since, hold)
	}

	nsC := newNamespace(t, "audited")
	auditSink := newHanging(t)
	sinkFine, sinkFineURL := newSink(t)
	hookPolicy(t, nsC, sinkFineURL, 0)
	startWatching(t, nsC, "--audit-sink-url="+auditSink.URL)
	// The first incidents' entries reach the sink, which hangs, before the
	// canaries are measured beside it.
	canaryLatency(t, nsC, "warm", 1, sinkFine)
	waitUntil(t, 30*time.Second, func() bool { return auditSink.received.Load() > 0 })
	audited := canaryLatency(t, nsC, "audited", canaries, sinkFine)
	if auditSink.received.Load() == 0 {
		t.Error("the audit sink received no export: the canaries were not measured beside a hanging sink")
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nISOLATION\tcanaries\tp50\tmax\tratio p50\tratio max\n")
	row := func(name string, d distribution) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2f\t%.2f\n", name, d.count, d.p50, d.max,
			float64(d.p50)/float64(baseline.p50), float64(d.max)/float64(baseline.max))
	}
	row("report→notification, alone", baseline)
	row(fmt.Sprintf("beside %d incidents whose webhook hangs (%s)", hanging, hold), neighbour)
	row("beside an audit sink that hangs", audited)
	_ = tw.Flush()
	// The ratio is of medians of a few samples a few milliseconds long:
	// noise on a shared machine is a few milliseconds too, which the
	// allowance absorbs without hiding a wait on a neighbour's timeout.
	for name, d := range map[string]distribution{"neighbour": neighbour, "audit sink": audited} {
		if d.p50 > 2*baseline.p50+50*time.Millisecond {
			t.Errorf("%s: median %s, more than twice the baseline %s", name, d.p50, baseline.p50)
		}
	}
}

// hangingServer accepts connections and answers nothing until the test
// ends.
type hangingServer struct {
	URL      string
	received atomic.Int32
}

func newHanging(t testing.TB) *hangingServer {
	h := &hangingServer{}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.received.Add(1)
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	h.URL = srv.URL
	return h
}

// hookPolicy routes every incident of ns to one webhook at url, tried once,
// with timeout when it is not zero.
func hookPolicy(t testing.TB, ns, url string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook", Labels: notificationSecret}, StringData: map[string]string{"url": url}}
	hook := &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"}}
	if timeout > 0 {
		hook.Timeout = securityv1alpha1.NewDuration(timeout)
	}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers:  []securityv1alpha1.Receiver{{Name: "hook", Webhook: hook}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "hook"}}}}},
			Delivery:   &securityv1alpha1.Delivery{MaxAttempts: 1},
		},
	}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
}

// startWatching runs an operator on namespaces, comma-separated, and gives
// it a few seconds to start.
func startWatching(t testing.TB, namespaces string, extra ...string) {
	t.Helper()
	op := &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: append([]string{
		"--watch-namespaces=" + namespaces, "--metrics-bind-address=0",
	}, extra...)}
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = op.Stop()
		if t.Failed() {
			log := op.Log()
			t.Logf("operator log (last 4 KiB):\n%s", log[max(0, len(log)-4096):])
		}
	})
}

// canaryLatency creates n incidents in ns one after another, each once the
// one before was notified, and is how long each took from its report to
// its notification at s. The first, which also waits for the operator to
// start, is not counted.
func canaryLatency(t testing.TB, ns, prefix string, n int, s *sink.Sink) distribution {
	t.Helper()
	var lags []time.Duration
	for i := range n + 1 {
		inc := incident(ns, 0)
		inc.Name = fmt.Sprintf("%s-%02d", prefix, i)
		before := s.Len()
		created := time.Now()
		if err := k8sClient.Create(context.Background(), inc); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 2*time.Minute, func() bool { return s.Len() > before })
		if i > 0 {
			lags = append(lags, s.Deliveries()[before].At.Sub(created))
		}
	}
	return distributionOf(lags)
}

func waitUntil(t testing.TB, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not done within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
