package controllers

import (
	"context"
	"errors"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/routing"
)

// policySets keeps each namespace's policies, its own and the cluster
// policies that apply to it, prepared for routing, in evaluation order and
// indexed, so that routing an incident costs the evaluation of the
// candidates alone, not a list, a copy, a sort and an index of every
// policy. A set is dropped on every event about a policy of its namespace
// or about the namespace's labels, every set on every event about a
// cluster policy, and rebuilt by the next incident: once, however many
// workers route the namespace's incidents at once.
type policySets struct {
	mu       sync.Mutex
	sets     map[string]*policySet
	versions map[string]uint64
	// epoch counts the events that dropped every set.
	epoch uint64
	// building is the build under way of a namespace's set, which callers
	// of the same version wait for rather than build the set again.
	building map[string]*policySetBuild
}

// policySetBuild is one build of a namespace's set, from a list read at
// version; done is closed when set and err are.
type policySetBuild struct {
	version uint64
	done    chan struct{}
	// waiters counts the callers that wait for this build.
	waiters int
	set     *policySet
	err     error
}

// errBuildAbandoned is what waiters get when a build ends without a
// result, as when it panics.
var errBuildAbandoned = errors.New("building the namespace's policy set did not finish")

type policySet struct {
	ordered []routing.Policy
	// index is ordered, indexed: what routing reads.
	index *routing.Index
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
	return &policySets{sets: map[string]*policySet{}, versions: map[string]uint64{}, building: map[string]*policySetBuild{}}
}

// version is the namespace's: it changes whenever a policy event drops the
// namespace's set. Both counters only grow, so their sum changes whenever
// either does. The caller holds mu.
func (s *policySets) version(namespace string) uint64 {
	return s.versions[namespace] + s.epoch
}

// get returns the namespace's set, building it with build when it was
// dropped. Callers that find a build of the current version under way wait
// for it and share its result, so that a change costs one build however
// many workers route the namespace's incidents at once. A set is kept only
// if no policy event came in while it was built, since the list it was
// built from may predate the event: its callers, who asked before the
// event, have it, and the next caller builds again. A caller that comes
// after the event does not wait for the older build but starts its own.
func (s *policySets) get(ctx context.Context, namespace string, build func(context.Context) (*policySet, error)) (*policySet, error) {
	for {
		s.mu.Lock()
		if set := s.sets[namespace]; set != nil {
			s.mu.Unlock()
			return set, nil
		}
		version := s.version(namespace)
		b := s.building[namespace]
		if b == nil || b.version != version {
			b = &policySetBuild{version: version, done: make(chan struct{}), err: errBuildAbandoned}
			s.building[namespace] = b
			s.mu.Unlock()
			s.run(ctx, namespace, b, build)
			return b.set, b.err
		}
		b.waiters++
		s.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if ctx.Err() == nil && (errors.Is(b.err, context.Canceled) || errors.Is(b.err, context.DeadlineExceeded)) {
			// The builder's own context ended, not this caller's: build
			// again rather than fail for someone else's reason.
			continue
		}
		return b.set, b.err
	}
}

// run builds b and keeps its set unless a policy event came in meanwhile;
// whatever happens, it releases the waiters.
func (s *policySets) run(ctx context.Context, namespace string, b *policySetBuild, build func(context.Context) (*policySet, error)) {
	defer func() {
		s.mu.Lock()
		if s.building[namespace] == b {
			delete(s.building, namespace)
		}
		if b.err == nil && s.version(namespace) == b.version {
			s.sets[namespace] = b.set
		}
		s.mu.Unlock()
		close(b.done)
	}()
	b.set, b.err = build(ctx)
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
