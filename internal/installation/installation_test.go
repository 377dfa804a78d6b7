package installation

import (
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func lease(namespace, holder string, acquired, renewed time.Duration) coordinationv1.Lease {
	return coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "incident-operator.security.incidentops.io"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: ptr.To[int32](15),
			AcquireTime:          &metav1.MicroTime{Time: now.Add(acquired)},
			RenewTime:            &metav1.MicroTime{Time: now.Add(renewed)},
		},
	}
}

func TestOther(t *testing.T) {
	ours := lease("incident-operator-system", "prod-a", -time.Hour, -time.Second)
	olderStaging := lease("staging", "staging-a", -2*time.Hour, -2*time.Second)
	newerStaging := lease("staging", "staging-a", -time.Minute, -2*time.Second)
	expired := lease("staging", "staging-a", -2*time.Hour, -time.Minute)
	released := lease("staging", "", -2*time.Hour, -time.Second)
	for _, c := range []struct {
		name   string
		leases []coordinationv1.Lease
		want   string
	}{
		{"alone", []coordinationv1.Lease{ours}, ""},
		{"starting alone", nil, ""},
		{"starting beside a held lease", []coordinationv1.Lease{newerStaging}, "staging"},
		{"an older installation runs", []coordinationv1.Lease{ours, olderStaging}, "staging"},
		{"a newer installation gives way", []coordinationv1.Lease{ours, newerStaging}, ""},
		{"an expired lease is no installation", []coordinationv1.Lease{ours, expired}, ""},
		{"a released lease is no installation", []coordinationv1.Lease{released}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Other(c.leases, "incident-operator-system", now)
			switch {
			case c.want == "" && got != nil:
				t.Errorf("gives way to %s/%s, want to none", got.Namespace, got.Name)
			case c.want != "" && (got == nil || got.Namespace != c.want):
				t.Errorf("gives way to %v, want the Lease in %s", got, c.want)
			}
		})
	}
	// Of two installations started together, exactly one gives way.
	a, b := lease("a", "a-1", -time.Minute, 0), lease("b", "b-1", -time.Minute, 0)
	if (Other([]coordinationv1.Lease{a, b}, "a", now) == nil) == (Other([]coordinationv1.Lease{a, b}, "b", now) == nil) {
		t.Error("two installations with leases taken at the same instant: not exactly one gives way")
	}
	if msg := Describe(&olderStaging); !strings.Contains(msg, "staging/incident-operator.security.incidentops.io") || !strings.Contains(msg, "staging-a") {
		t.Errorf("Describe = %q, want the Lease and its holder named", msg)
	}
}
