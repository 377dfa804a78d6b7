package chaos_test

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// A second installation in the cluster (here a staging operator, whose
// Lease is in its own namespace) is refused: an operator started beside it
// exits at once naming it, and a running one that finds an installation
// older than its own stops within its check interval. Once the other is
// gone, the operator runs and leads.
func TestASecondInstallationRefusesToRun(t *testing.T) {
	ns := newNamespace(t, "install")
	staging := newNamespace(t, "staging-operator")
	freshLease(t)

	other := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: staging, Name: leaseName},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("staging-operator-7d9f"),
			LeaseDurationSeconds: ptr.To[int32](600),
			AcquireTime:          &metav1.MicroTime{Time: time.Now().Add(-time.Hour)},
			RenewTime:            &metav1.MicroTime{Time: time.Now()},
		},
	}
	if err := k8sClient.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	op := startOperator(t, ns, "--leader-elect")
	waitForExit(t, op, 30*time.Second)
	for _, want := range []string{"Refusing to start", staging + "/" + leaseName, "staging-operator-7d9f", "one installation per cluster"} {
		if !strings.Contains(op.Log(), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, tail(op.Log(), 20))
		}
	}
	if strings.Contains(op.Log(), acquiredLease) {
		t.Error("the refused operator took the lease")
	}
	for _, line := range strings.Split(op.Log(), "\n") {
		if strings.Contains(line, "Refusing to start") {
			t.Logf("refused: %s", line)
		}
	}

	// The other installation removed, the operator runs and leads.
	if err := k8sClient.Delete(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, op, acquiredLease, 30*time.Second)

	// An older installation appears (two started together): this one,
	// whose lease is newer, stops and names it.
	other.ResourceVersion = ""
	other.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	if err := k8sClient.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), other) })
	waitForExit(t, op, 30*time.Second)
	if !strings.Contains(op.Log(), "staging-operator-7d9f") {
		t.Errorf("the running operator stopped without naming the other installation:\n%s", tail(op.Log(), 20))
	}
}

// waitForExit waits until the operator's process has ended by itself.
func waitForExit(t *testing.T, op *testenv.Operator, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for op.Running() {
		if time.Now().After(deadline) {
			t.Fatalf("the operator still runs after %s:\n%s", timeout, tail(op.Log(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Reap it, so that the next Start may run.
	_ = op.Stop()
}
