// Package installation tells whether another installation of the operator
// runs in the cluster, from the leader-election Leases every installation
// holds in its own namespace.
//
// One installation per cluster is supported: two (a staging operator, a
// half-finished move from `make deploy` to the Helm chart) would each elect
// a leader in its own namespace, both would route, notify and write the
// status of the same cluster-scoped policies, each by its own settings.
package installation

import (
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// Other returns the Lease of another installation that this one, whose
// Lease is in namespace, must give way to, or nil. Leases are those named
// as the operator's leader-election Lease, in any namespace. A Lease
// counts while it is held: it has a holder and its last renewal is within
// its duration. When both installations hold theirs, the one that took
// its Lease first stays, so that of two installations started together
// exactly one gives way; an installation that holds no Lease yet gives way
// to any that does.
func Other(leases []coordinationv1.Lease, namespace string, now time.Time) *coordinationv1.Lease {
	var own *coordinationv1.Lease
	for i := range leases {
		if leases[i].Namespace == namespace && held(&leases[i], now) {
			own = &leases[i]
		}
	}
	var first *coordinationv1.Lease
	for i := range leases {
		other := &leases[i]
		if other.Namespace == namespace || !held(other, now) {
			continue
		}
		if own != nil && !acquiredBefore(other, own) {
			continue
		}
		if first == nil || acquiredBefore(other, first) {
			first = other
		}
	}
	return first
}

// Describe names the other installation for a person.
func Describe(other *coordinationv1.Lease) string {
	holder := ""
	if other.Spec.HolderIdentity != nil {
		holder = *other.Spec.HolderIdentity
	}
	renewed := "never"
	if other.Spec.RenewTime != nil {
		renewed = other.Spec.RenewTime.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Lease %s/%s is held by %q (renewed %s); one installation per cluster is supported: remove one, or stop it before the other starts",
		other.Namespace, other.Name, holder, renewed)
}

func held(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
		return false
	}
	duration := 15 * time.Second
	if l.Spec.LeaseDurationSeconds != nil {
		duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return now.Before(l.Spec.RenewTime.Add(duration))
}

// acquiredBefore orders two held Leases by when they were taken; a tie is
// broken by namespace, so that the order is total.
func acquiredBefore(a, b *coordinationv1.Lease) bool {
	at, bt := acquired(a), acquired(b)
	if !at.Equal(bt) {
		return at.Before(bt)
	}
	return a.Namespace < b.Namespace
}

func acquired(l *coordinationv1.Lease) time.Time {
	if l.Spec.AcquireTime != nil {
		return l.Spec.AcquireTime.Time
	}
	return l.CreationTimestamp.Time
}
