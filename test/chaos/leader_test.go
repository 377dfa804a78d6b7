package chaos_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// leaseName is the operator's leader-election Lease.
const leaseName = "incident-operator.security.incidentops.io"

// acquiredLease is what client-go's leader election logs when a replica
// becomes the leader.
const acquiredLease = "Successfully acquired lease"

// shortLease makes the operator elect a leader, in its own namespace as
// the shipped Role allows, with the lease settings the chart and the
// operator's defaults give (3 s lease, 2 s renew deadline, 500 ms retry),
// so that a lost leader is replaced, or gives up, within seconds. A lease
// left by an earlier test is removed first.
func shortLease(t *testing.T) []string {
	t.Helper()
	freshLease(t)
	return []string{"--leader-elect"}
}

// freshLease removes the leader-election Lease an earlier test's replicas
// left, so that a test's first replica leads at once.
func freshLease(t *testing.T) {
	t.Helper()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.OperatorNamespace, Name: leaseName}}
	if err := k8sClient.Delete(context.Background(), lease); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
}

// TestLeaderFailover runs two replicas with leader election and kills the
// leader with SIGKILL while incidents arrive. The other replica takes the
// lease once it expires and delivers what is owed: every notification
// arrives, and any copy sent twice carries its original key.
func TestLeaderFailover(t *testing.T) {
	const incidents = 40
	ns := newNamespace(t, "failover")
	s, url := newPausingSink(t, 150*time.Millisecond)
	webhookPolicy(t, ns, "service-desk", 0, false, 0, map[string]string{"desk": url + "/desk", "audit": url + "/audit"})
	replicas := []*testenv.Operator{startOperator(t, ns, shortLease(t)...), startOperator(t, ns, shortLease(t)...)}
	leader, follower := waitForLeader(t, replicas)
	waitForLog(t, leader, "Starting workers", 30*time.Second)
	holder := currentLease(t).Spec.HolderIdentity

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	created := createSteadily(ctx, ns, "failover", incidents, 200*time.Millisecond)

	time.Sleep(2 * time.Second)
	// Only the leader works: a follower that started its controllers, as
	// the leader has, would send beside it.
	if strings.Contains(follower.Log(), "Starting workers") {
		t.Fatalf("the follower started its controllers while the other replica led")
	}
	killed := time.Now()
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	lease := waitForNewHolder(t, *holder, 30*time.Second)
	acquired := lease.Spec.AcquireTime.Time
	// The surviving replica is the one that took it; it logs so just after
	// the write.
	waitForLog(t, follower, acquiredLease, 10*time.Second)
	// The killed replica comes back, as its Deployment would bring it
	// back, and must wait as a follower.
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatalf("creating incidents: %v", err)
	}

	all := waitAllNotified(t, ns, incidents, 60*time.Second)
	got := s.Deliveries()
	duplicates := checkDeliveries(t, all, 2, got)
	if _, restarted, _ := strings.Cut(leader.Log(), "---- operator start 2"); strings.Contains(restarted, acquiredLease) {
		t.Error("the restarted replica took the lease from the live leader")
	}
	var first *sink.Delivery
	for i := range got {
		if got[i].At.After(acquired) && (first == nil || got[i].At.Before(first.At)) {
			first = &got[i]
		}
	}
	if first == nil {
		t.Fatal("the new leader delivered nothing, though incidents arrived after the kill")
	}
	leaderless := 0
	for _, d := range got {
		if d.At.After(killed) && d.At.Before(acquired) {
			leaderless++
		}
	}
	t.Logf("%d incidents, %d notifications owed, %d received (%d duplicates, each under its original key); "+
		"lease taken over %s after the kill, first delivery by the new leader %s after the kill; %d deliveries arrived while no replica led",
		incidents, incidents*2, len(got), duplicates, acquired.Sub(killed).Round(time.Millisecond),
		first.At.Sub(killed).Round(time.Millisecond), leaderless)
}

// TestEtcdStalledPastTheRenewDeadline freezes etcd with SIGSTOP for longer
// than the operator's renew deadline. The leader cannot renew its lease, so
// it must stop working and exit; restarted as a Deployment would restart
// it, it takes the lease again once etcd answers and delivers everything
// owed for incidents created before and during the stall.
func TestEtcdStalledPastTheRenewDeadline(t *testing.T) {
	const (
		before = 10
		during = 20
		stall  = 8 * time.Second // the renew deadline is 2s
	)
	ns := newNamespace(t, "stall")
	s, url := newSink(t)
	webhookPolicy(t, ns, "service-desk", 0, false, 0, map[string]string{"desk": url})
	op := startOperator(t, ns, shortLease(t)...)
	restarts := keepRunning(t, op)
	waitForLeader(t, []*testenv.Operator{op})
	etcd := etcdPid(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var createErr atomic.Value
	// The first incident shows the operator at work; etcd stops as soon as
	// the last of the others is stored, so the operator is still working on
	// some of them.
	for i := range before {
		if i == 1 {
			waitAllNotified(t, ns, 1, 30*time.Second)
		}
		if err := createRetrying(ctx, newIncident(ns, fmt.Sprintf("before-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}

	t.Cleanup(func() { _ = syscall.Kill(etcd, syscall.SIGCONT) }) // never leave the control plane frozen
	if err := syscall.Kill(etcd, syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping etcd (pid %d): %v", etcd, err)
	}
	stopped := time.Now()
	deliveredBefore := s.Len()
	// Each create waits in the API server until etcd answers again.
	for i := range during {
		wg.Go(func() {
			if err := createRetrying(ctx, newIncident(ns, fmt.Sprintf("during-%02d", i))); err != nil {
				createErr.Store(err)
			}
		})
		time.Sleep(stall / during)
	}
	time.Sleep(time.Until(stopped.Add(stall)))
	deliveredDuring := s.Len() - deliveredBefore
	if err := syscall.Kill(etcd, syscall.SIGCONT); err != nil {
		t.Fatalf("resuming etcd: %v", err)
	}
	resumed := time.Now()
	wg.Wait()
	if err, _ := createErr.Load().(error); err != nil {
		t.Fatalf("creating incidents: %v", err)
	}

	all := waitAllNotified(t, ns, before+during, 60*time.Second)
	caughtUp := time.Since(resumed)
	duplicates := checkDeliveries(t, all, 1, s.Deliveries())
	log := op.Log()
	if !strings.Contains(log, "leader election lost") || restarts.Load() == 0 {
		t.Fatalf("the operator kept running (%d restarts) though it could not renew its lease for %s", restarts.Load(), stall)
	}
	if n := strings.Count(log, acquiredLease); n < 2 {
		t.Fatalf("the lease was acquired %d times; the restarted operator should have taken it again", n)
	}
	reacquired := currentLease(t).Spec.AcquireTime.Sub(resumed)
	t.Logf("etcd stopped %s (renew deadline 2s); the operator exited and was restarted %d times; "+
		"%d incidents: %d deliveries made when etcd stopped, %d while it was stopped; "+
		"lease taken again %s and all notified %s after etcd resumed (%d duplicates, each under its original key)",
		resumed.Sub(stopped).Round(100*time.Millisecond), restarts.Load(), before+during, deliveredBefore, deliveredDuring,
		reacquired.Round(100*time.Millisecond), caughtUp.Round(100*time.Millisecond), duplicates)
}

// waitForLeader waits until one of replicas logs that it acquired the lease
// and returns it, with another replica if there is one.
func waitForLeader(t *testing.T, replicas []*testenv.Operator) (leader, follower *testenv.Operator) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for i, op := range replicas {
			if strings.Contains(op.Log(), acquiredLease) {
				others := slices.Delete(slices.Clone(replicas), i, i+1)
				if len(others) > 0 {
					follower = others[0]
				}
				return op, follower
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no replica acquired the lease within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForLog waits until op has logged text.
func waitForLog(t *testing.T, op *testenv.Operator, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(op.Log(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the operator did not log %q within %s", text, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func currentLease(t *testing.T) *coordinationv1.Lease {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: testenv.OperatorNamespace, Name: leaseName}, lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatalf("lease %s/%s has no holder", testenv.OperatorNamespace, leaseName)
	}
	return lease
}

// waitForNewHolder waits until the lease is held by someone other than old.
func waitForNewHolder(t *testing.T, old string, timeout time.Duration) *coordinationv1.Lease {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lease := currentLease(t)
		if *lease.Spec.HolderIdentity != old && lease.Spec.AcquireTime != nil {
			return lease
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease still held by %s after %s", old, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keepRunning starts op again whenever its process exits by itself, as a
// Deployment would, until the test ends. It counts the restarts.
func keepRunning(t *testing.T, op *testenv.Operator) *atomic.Int32 {
	var restarts atomic.Int32
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if op.Running() {
				continue
			}
			_ = op.Stop() // the process has ended: this only forgets it
			if err := op.Start(); err != nil {
				t.Errorf("restarting the operator: %v", err)
				return
			}
			restarts.Add(1)
		}
	}()
	// Registered after startOperator's cleanup, so it runs first: nothing
	// restarts the operator once the test stops it.
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return &restarts
}

// etcdPid finds the process of the test control plane's etcd by the client
// URL it listens on; other control planes on the machine listen elsewhere.
func etcdPid(t *testing.T) int {
	t.Helper()
	listen := "--listen-client-urls=" + env.ControlPlane.Etcd.URL.String()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // the process has ended
		}
		args := strings.Split(string(raw), "\x00")
		if filepath.Base(args[0]) == "etcd" && slices.Contains(args, listen) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			return pid
		}
	}
	t.Fatalf("no etcd process with %s", listen)
	return 0
}
