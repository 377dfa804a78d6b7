package chaos_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/sink"
)

// TestSlowReceiverKilledMidSend notifies one slow receiver beside three fast
// ones, and kills the operator with SIGKILL once the fast receivers have
// accepted their deliveries while the slow ones are still held. The
// operator stores the fast outcomes without waiting for the slow sends, so
// every fast delivery is recorded before the kill and never sent again; the
// slow ones are sent again under their original keys after the restart.
func TestSlowReceiverKilledMidSend(t *testing.T) {
	const (
		incidents = 6
		// hold is the longest a slow send is held, within the webhook's
		// 10s timeout; the kill releases them sooner, so that each is
		// still held when it comes, however slowly a loaded machine
		// started them.
		hold = 9 * time.Second
		// settle is how long the operator has, after the fast receivers
		// accepted, to record their outcome while the slow sends go on.
		settle = 2 * time.Second
	)
	ns := newNamespace(t, "slow")
	var held atomic.Int32
	release := make(chan struct{})
	slow, slowURL := newSink(t)
	slow.Fail = func(int) int {
		held.Add(1)
		defer held.Add(-1)
		select {
		case <-release:
		case <-time.After(hold):
		}
		return 0
	}
	urls := map[string]string{"slow": slowURL}
	fast := map[string]*sink.Sink{}
	for _, name := range []string{"fast-a", "fast-b", "fast-c"} {
		s, url := newSink(t)
		fast[name], urls[name] = s, url
	}
	webhookPolicy(t, ns, "mixed", 0, false, 0, urls)
	op := startOperator(t, ns)

	for i := range incidents {
		if err := k8sClient.Create(context.Background(), newIncident(ns, fmt.Sprintf("slow-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !allFastAccepted(fast, incidents) || held.Load() < incidents {
		if time.Now().After(deadline) {
			t.Fatalf("the fast receivers did not all accept and the slow one hold %d deliveries within 30s (%d held)", incidents, held.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(settle)
	recorded := deliveredInStatus(t, ns)
	if n := held.Load(); n < incidents {
		t.Fatalf("only %d of %d slow sends were still in flight at the kill; the test needs them all held", n, incidents)
	}
	if err := op.Kill(); err != nil {
		t.Fatal(err)
	}
	close(release)
	restarted := time.Now()
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}

	all := waitAllNotified(t, ns, incidents, 60*time.Second)
	got := slow.Deliveries()
	for _, s := range fast {
		got = append(got, s.Deliveries()...)
	}
	checkDeliveries(t, all, 4, got)

	perKey := map[string]int{}
	for _, s := range fast {
		for _, d := range s.Deliveries() {
			perKey[d.Key]++
		}
	}
	resent, recordedFast := 0, 0
	for key, n := range perKey {
		resent += n - 1
		if recorded[key] {
			recordedFast++
			if n != 1 {
				t.Errorf("delivery %s was recorded as delivered before the kill, yet a fast receiver got it %d times", key, n)
			}
		}
	}
	if recordedFast != len(perKey) || resent != 0 {
		t.Errorf("%d of %d fast deliveries were recorded %s after the last was accepted, and %d were sent again: a slow receiver held back the record of the fast ones",
			recordedFast, len(perKey), settle, resent)
	}
	slowAfter := map[string]bool{}
	for _, d := range slow.Deliveries() {
		if d.At.After(restarted) {
			slowAfter[d.Key] = true
		}
	}
	for _, inc := range all {
		for _, rec := range inc.Status.Notifications {
			if rec.Receiver == "slow" && !slowAfter[rec.Key] {
				t.Errorf("%s: the slow receiver was not told after the restart (key %s)", inc.Name, rec.Key)
			}
		}
	}
	t.Logf("%d incidents, %d fast deliveries accepted before the kill, %d of them recorded in status %s after the last was accepted; "+
		"after the restart the fast receivers got %d resends (each under its original key), the slow receiver %d of %d deliveries",
		incidents, len(perKey), recordedFast, settle, resent, len(slowAfter), incidents)
}

// allFastAccepted is true when every sink has accepted n deliveries.
func allFastAccepted(sinks map[string]*sink.Sink, n int) bool {
	for _, s := range sinks {
		if s.Len() < n {
			return false
		}
	}
	return true
}

// deliveredInStatus is the keys of the deliveries ns's incidents record as
// delivered.
func deliveredInStatus(t *testing.T, ns string) map[string]bool {
	t.Helper()
	var list securityv1alpha1.IncidentList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, inc := range list.Items {
		for _, rec := range inc.Status.Notifications {
			if rec.State == securityv1alpha1.DeliveryDelivered {
				keys[rec.Key] = true
			}
		}
	}
	return keys
}
