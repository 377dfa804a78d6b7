package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// hangingServer accepts requests and answers none until released or the
// test ends; it counts the requests it holds.
type hangingServer struct {
	URL      string
	held     atomic.Int32
	received atomic.Int32
	release  chan struct{}
	once     sync.Once
	// after, once released, answers requests.
	after http.Handler
}

func newHangingServer(t *testing.T, after http.Handler) *hangingServer {
	h := &hangingServer{release: make(chan struct{}), after: after}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.received.Add(1)
		select {
		case <-h.release:
		default:
			h.held.Add(1)
			select {
			case <-h.release:
			case <-r.Context().Done():
			}
			h.held.Add(-1)
		}
		if h.after != nil {
			h.after.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(func() {
		h.open()
		srv.Close()
	})
	h.URL = srv.URL
	return h
}

// open lets every request held and to come through.
func (h *hangingServer) open() { h.once.Do(func() { close(h.release) }) }

// A receiver that hangs holds its own namespace's sends, never the
// reconcile workers every namespace shares: while namespace A's incidents
// wait on a webhook that answers nothing, namespace B's incidents are
// notified at once, long before A's sends time out. With sends made
// inside the reconcile, B waited for A's timeouts.
func TestHangingReceiverHoldsOnlyItsNamespace(t *testing.T) {
	const (
		hanging  = 40
		canaries = 5
		timeout  = 20 * time.Second
		// soon is far less than the hanging receiver's timeout.
		soon = 5 * time.Second
	)
	nsA := newNamespace(t)
	stuck := newHangingServer(t, nil)
	webhookSecret(t, nsA, "stuck", stuck.URL)
	policy := webhookPolicy(nsA, "stuck", 0, "stuck", securityv1alpha1.PolicyMatch{})
	policy.Spec.Receivers[0].Webhook.Timeout = securityv1alpha1.NewDuration(timeout)
	policy.Spec.Delivery = &securityv1alpha1.Delivery{MaxAttempts: 1}
	create(t, policy)
	for i := range hanging {
		create(t, newIncident(nsA, fmt.Sprintf("stuck-%02d", i), securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	}
	// A's sends hang: as many as a receiver may have in flight (16), or
	// at least as many as the operator's reconcile workers (4), which
	// sends inside the reconcile would now all hold.
	deadline := time.Now().Add(soon)
	for stuck.held.Load() < 16 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := stuck.held.Load(); n < 4 {
		t.Fatalf("only %d of A's sends hang", n)
	}
	hungAt := time.Now()

	nsB := newNamespace(t)
	fine := newSink(t)
	webhookSecret(t, nsB, "fine", fine.URL)
	create(t, webhookPolicy(nsB, "fine", 0, "fine", securityv1alpha1.PolicyMatch{}))
	created := time.Now()
	for i := range canaries {
		create(t, newIncident(nsB, fmt.Sprintf("canary-%02d", i), securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	}
	slowest := notifiedWithin(t, fine, canaries, created, soon)
	if since := time.Since(hungAt); since >= timeout {
		t.Fatalf("B was notified %s after A's sends hung, when they had timed out", since)
	}
	if n := stuck.held.Load(); n < 4 {
		t.Errorf("only %d of A's sends still hang: the test did not hold them while B was notified", n)
	}
	t.Logf("B's %d incidents notified within %s of being created while %d of A's sends hung (of %d received)",
		canaries, slowest.Round(time.Millisecond), stuck.held.Load(), stuck.received.Load())
}

// An audit sink that accepts connections and answers nothing never delays
// a notification, nor a deletion: the export runs in a controller of its
// own that watches the audit log, beside the incidents' reconciles. Once
// the sink answers, it gets the whole log, across a restart of the
// operator too.
func TestHangingAuditSinkDelaysNoNotification(t *testing.T) {
	const (
		incidents = 12
		soon      = 5 * time.Second // the sink's timeout is 10s
	)
	collector, _ := newAuditCollector(t)
	sinkServer := newHangingServer(t, collector)
	restartWithAuditSink(t, sinkServer.URL+"/audit")

	ns := newNamespace(t)
	receiver := newSink(t)
	webhookSecret(t, ns, "desk", receiver.URL)
	create(t, webhookPolicy(ns, "desk", 0, "desk", securityv1alpha1.PolicyMatch{}))
	created := time.Now()
	for i := range incidents {
		create(t, newIncident(ns, fmt.Sprintf("inc-%02d", i), securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	}
	slowest := notifiedWithin(t, receiver, incidents, created, soon)
	if sinkServer.held.Load() == 0 {
		t.Fatal("no export was held by the audit sink: the test did not hang it")
	}
	t.Logf("%d incidents notified within %s while the audit sink held %d exports", incidents, slowest.Round(time.Millisecond), sinkServer.held.Load())
	deleting := time.Now()
	deleteIncident(t, ns, "inc-00", soon)
	t.Logf("an incident deleted in %s while the audit sink held %d exports", time.Since(deleting).Round(time.Millisecond), sinkServer.held.Load())
	if sinkServer.held.Load() == 0 {
		t.Fatal("the audit sink held no export while the incident was deleted")
	}

	// The operator restarts while the sink still hangs; what the sink never
	// acknowledged is exported by the next one.
	restartWithAuditSink(t, sinkServer.URL+"/audit")
	sinkServer.open()
	eventually(t, 60*time.Second, func() error { return collector.holdsLog(t, ns) })
}

// notifiedWithin waits up to soon for n deliveries at the sink, and is the
// longest any took since created.
func notifiedWithin(t *testing.T, s *testSink, n int, created time.Time, soon time.Duration) time.Duration {
	t.Helper()
	eventually(t, soon, func() error {
		if got := s.Len(); got < n {
			return fmt.Errorf("%d of %d incidents notified within %s", got, n, soon)
		}
		return nil
	})
	var slowest time.Duration
	for _, d := range s.Deliveries() {
		slowest = max(slowest, d.At.Sub(created))
	}
	return slowest
}
