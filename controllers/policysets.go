package controllers

import (
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/routing"
)

// policySets keeps each namespace's policies, its own and the cluster
// policies that apply to it, prepared for routing and in evaluation order,
// so that routing an incident costs the evaluation alone, not a list, a
// copy and a sort of every policy. A set is dropped on every event about a
// policy of its namespace or about the namespace's labels, every set on
// every event about a cluster policy, and rebuilt by the next incident.
type policySets struct {
	mu       sync.Mutex
	sets     map[string]*policySet
	versions map[string]uint64
	// epoch counts the events that dropped every set.
	epoch uint64
}

type policySet struct {
	ordered []routing.Policy
	// unusable are the policies left out of routing, and why.
	unusable []unusablePolicy
	// degraded are protected policies that route though this operator
	// judges part of them unusable, by name, with why.
	degraded map[string]string
	// byName points into the informer's cache: read, never written. It
	// holds EscalationPolicies and ClusterEscalationPolicies, for events.
	byName map[string]client.Object
}

// unusablePolicy is a policy that cannot route incidents until a person
// fixes it; its own Ready condition says what is wrong.
type unusablePolicy struct {
	policy client.Object
	kind   string
	reason string
}

// verdicts judges, for routing, whether each policy may route incidents,
// by this operator's own checks (policycheck.Run with its settings), never
// by the Ready condition a policy's status holds: a status is written by
// whoever last wrote it, which may be another operator with other
// settings, a person, or a stale controller. The verdict depends on the
// spec and the operator's settings only, so it is kept per generation, by
// name, so that what is kept is bounded by the policies that exist.
type verdicts struct {
	checks policycheck.Environment
	mu     sync.Mutex
	byName map[types.NamespacedName]verdict
}

type verdict struct {
	uid        types.UID
	generation int64
	// reason is why the policy may not route, or "" when it may.
	reason string
	// structural is true when the policy's own spec cannot work, whatever
	// the operator's settings.
	structural bool
}

func newVerdicts(checks policycheck.Environment) *verdicts {
	return &verdicts{checks: checks, byName: map[types.NamespacedName]verdict{}}
}

// of says why a policy must not route incidents, or "" when it may. A
// policy whose spec is broken is left out: routing an incident to it would
// pin the incident to a chain that cannot run. A policy that only waits for
// a Secret still routes, so its deliveries go out once the Secret appears.
func (v *verdicts) of(uid types.UID, p *securityv1alpha1.EscalationPolicy) verdict {
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	v.mu.Lock()
	cached, ok := v.byName[key]
	v.mu.Unlock()
	if ok && cached.uid == uid && cached.generation == p.Generation {
		return cached
	}
	judged := verdict{uid: uid, generation: p.Generation}
	judged.reason, judged.structural = policycheck.Verdict(p, v.checks)
	v.mu.Lock()
	v.byName[key] = judged
	v.mu.Unlock()
	return judged
}

func newPolicySets() *policySets {
	return &policySets{sets: map[string]*policySet{}, versions: map[string]uint64{}}
}

// get returns the namespace's set, or nil and the version a new set must be
// stored under. Both counters only grow, so their sum changes whenever
// either does.
func (s *policySets) get(namespace string) (*policySet, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets[namespace], s.versions[namespace] + s.epoch
}

// put stores a set built from a list read after get returned version,
// unless a policy event came in since: the list may predate it.
func (s *policySets) put(namespace string, version uint64, set *policySet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.versions[namespace]+s.epoch == version {
		s.sets[namespace] = set
	}
}

// invalidateAll drops every set, after a cluster policy changed.
func (s *policySets) invalidateAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	clear(s.sets)
}

// invalidate drops the namespace's set; the informer calls it after it has
// stored the policy change, so the next list sees the change.
func (s *policySets) invalidate(namespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[namespace]++
	delete(s.sets, namespace)
}
