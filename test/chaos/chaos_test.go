package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestOperatorKilledDuringABurst kills the operator with SIGKILL at random
// moments while incidents keep arriving, restarting it each time. Every
// notification must arrive at least once, and any copy that arrives twice
// must carry the original's idempotency key; the audit log must hold every
// entry a status counts, once, in a log whose checkpoints are consistent.
func TestOperatorKilledDuringABurst(t *testing.T) {
	const (
		incidents = 1000
		kills     = 50
	)
	ns := newNamespace(t, "kill")
	s, url := newPausingSink(t, 40*time.Millisecond)
	webhookPolicy(t, ns, "internal-audit", 100, true, 0, map[string]string{"audit": url + "/audit", "dpo": url + "/dpo"})
	webhookPolicy(t, ns, "service-desk", 50, false, 0, map[string]string{"desk": url + "/desk"})
	op := startOperator(t, ns)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// A steady stream over about 40 s, so that kills land in every stage
	// of the work.
	created := createSteadily(ctx, ns, "burst", incidents, 40*time.Millisecond)

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for k := range kills {
		time.Sleep(time.Duration(300+rnd.IntN(900)) * time.Millisecond)
		if err := op.Kill(); err != nil {
			t.Fatalf("kill %d: %v", k+1, err)
		}
		if err := op.Start(); err != nil {
			t.Fatalf("restart %d: %v", k+1, err)
		}
	}
	if err := <-created; err != nil {
		t.Fatalf("creating incidents: %v", err)
	}

	all := waitAllNotified(t, ns, incidents, 3*time.Minute)
	duplicates := checkDeliveries(t, all, 3, s.Deliveries())
	t.Logf("%d kills, %d incidents, %d notifications expected, %d received (%d duplicates, each under its original key)",
		kills, incidents, incidents*3, len(s.Deliveries()), duplicates)
	checkAuditLog(t, ns, all)
}

// TestFlakyAndHangingReceivers delivers through one receiver that fails
// every other request and one that hangs past its timeout on every other
// request: everything arrives in the end, and status and events tell what
// happened on the way.
func TestFlakyAndHangingReceivers(t *testing.T) {
	const incidents = 20
	ns := newNamespace(t, "flaky")
	flaky, flakyURL := newSink(t)
	flaky.Fail = func(n int) int {
		if n%2 == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	var hangs atomic.Int32
	hanging, hangingURL := newSink(t)
	hanging.Fail = func(n int) int {
		if n%2 == 1 {
			hangs.Add(1)
			time.Sleep(3 * time.Second) // past the receiver's 1s timeout
		}
		return 0
	}
	webhookPolicy(t, ns, "flaky", 100, true, 0, map[string]string{"flaky": flakyURL})
	webhookPolicy(t, ns, "hanging", 50, false, time.Second, map[string]string{"hanging": hangingURL})
	op := startOperator(t, ns)

	for i := range incidents {
		if err := k8sClient.Create(context.Background(), newIncident(ns, fmt.Sprintf("flaky-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	all := waitAllNotified(t, ns, incidents, 3*time.Minute)
	checkDeliveries(t, all, 2, append(flaky.Deliveries(), hanging.Deliveries()...))

	retried := map[string]int{}
	for _, inc := range all {
		for _, rec := range inc.Status.Notifications {
			if rec.Attempts > 1 {
				retried[rec.Receiver]++
			}
			if rec.LastError != "" || rec.NextAttemptAt != nil {
				t.Errorf("%s/%s delivered but still shows error %q, next attempt %v", inc.Name, rec.Receiver, rec.LastError, rec.NextAttemptAt)
			}
		}
	}
	if retried["flaky"] == 0 || retried["hanging"] == 0 {
		t.Errorf("deliveries retried by receiver = %v; both receivers should have needed retries", retried)
	}

	// The failures on the way were told as events, with the reason.
	var events eventsv1.EventList
	if err := k8sClient.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	saw := map[string]bool{}
	for _, e := range events.Items {
		if e.Reason != "NotificationFailed" {
			continue
		}
		switch {
		case strings.Contains(e.Note, "Notifying flaky failed") && strings.Contains(e.Note, "503 Service Unavailable"):
			saw["503"] = true
		case strings.Contains(e.Note, "Notifying hanging failed") && strings.Contains(e.Note, "timed out"):
			saw["timeout"] = true
		}
	}
	if !saw["503"] || !saw["timeout"] {
		t.Errorf("NotificationFailed events seen: %v, want the 503 and the timeout", saw)
	}
	if !op.Running() {
		t.Error("the operator exited")
	}
	t.Logf("%d incidents: flaky receiver got %d requests, hanging receiver %d (%d hung); retried %v",
		incidents, len(flaky.Deliveries()), len(hanging.Deliveries()), hangs.Load(), retried)
}

// TestAPIServerRestartDuringABurst stops the API server while incidents
// are being created and delivered, then starts it again. The operator,
// running with leader election as in production, recovers by itself: its
// renew deadline is longer than the outage, so it keeps the lease.
func TestAPIServerRestartDuringABurst(t *testing.T) {
	const incidents = 40
	ns := newNamespace(t, "restart")
	s, url := newSink(t)
	webhookPolicy(t, ns, "service-desk", 0, false, 0, map[string]string{"desk": url})
	freshLease(t)
	op := startOperator(t, ns, "--leader-elect", "--leader-elect-lease-duration=60s", "--leader-elect-renew-deadline=45s")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	created := createSteadily(ctx, ns, "restart", incidents, 100*time.Millisecond)

	time.Sleep(1500 * time.Millisecond)
	apiserver := env.ControlPlane.GetAPIServer()
	// The server is asked to stop and killed if it takes more than 5s; either
	// way it is gone.
	if err := apiserver.Stop(); err != nil && !strings.Contains(err.Error(), "timeout waiting for process") {
		t.Fatalf("stopping the API server: %v", err)
	}
	stopped := time.Now()
	before := len(s.Deliveries())
	time.Sleep(3 * time.Second)
	if err := apiserver.Start(); err != nil {
		t.Fatalf("starting the API server again: %v", err)
	}
	outage := time.Since(stopped)
	if err := <-created; err != nil {
		t.Fatalf("creating incidents: %v", err)
	}

	all := waitAllNotified(t, ns, incidents, 3*time.Minute)
	checkDeliveries(t, all, 1, s.Deliveries())
	if !op.Running() {
		t.Fatal("the operator exited; it should ride out an API server restart")
	}
	if starts := strings.Count(op.Log(), "---- operator start"); starts != 1 {
		t.Fatalf("the operator was started %d times", starts)
	}
	t.Logf("%d incidents delivered; %d before the API server stopped, %d after it came back %s later, with one operator process",
		incidents, before, len(s.Deliveries())-before, outage.Round(100*time.Millisecond))
}

// TestEmailWithoutAnSMTPServerIsNotReady runs the operator without --smtp-*
// flags: a policy that needs e-mail says so instead of failing later.
func TestEmailWithoutAnSMTPServerIsNotReady(t *testing.T) {
	ns := newNamespace(t, "nosmtp")
	startOperator(t, ns)
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dpo"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{{Name: "dpo", Email: &securityv1alpha1.EmailReceiver{To: []string{"dpo@example.org"}}}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{
				Notify: []securityv1alpha1.NotifyTarget{{Receiver: "dpo"}, {Role: securityv1alpha1.RoleLineManager}},
			}}},
		},
	}
	if err := k8sClient.Create(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(policy), policy); err != nil {
			t.Fatal(err)
		}
		c := meta.FindStatusCondition(policy.Status.Conditions, securityv1alpha1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionFalse && c.Reason == securityv1alpha1.ReasonChannelNotConfigured {
			if !strings.Contains(c.Message, "spec.receivers[0] (dpo)") || !strings.Contains(c.Message, "--smtp-address") {
				t.Errorf("Ready message %q should name the receiver and the flag", c.Message)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready = %+v, want False with reason ChannelNotConfigured", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
