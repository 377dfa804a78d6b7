package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
)

// policyStore stands for the informer's cache: the policies of one
// namespace, which a build lists and a change replaces before it drops the
// namespace's set, as the informer does.
type policyStore struct {
	mu       sync.Mutex
	policies []*securityv1alpha1.EscalationPolicy
	// builds counts the sets built.
	builds atomic.Int32
	// gates hold the builds, by number from 1, until closed; a build with
	// no gate goes straight through. started says which build began.
	gates   map[int32]chan struct{}
	started chan int32
}

func newPolicyStore(policies ...*securityv1alpha1.EscalationPolicy) *policyStore {
	return &policyStore{policies: policies, gates: map[int32]chan struct{}{}, started: make(chan int32, 100)}
}

func (st *policyStore) gate(build int32) chan struct{} {
	g := make(chan struct{})
	st.gates[build] = g
	return g
}

func (st *policyStore) add(p *securityv1alpha1.EscalationPolicy) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.policies = append(st.policies, p)
}

// build lists the policies and prepares them, as buildPolicySet does from
// the cache, then waits at its gate.
func (st *policyStore) build(context.Context) (*policySet, error) {
	n := st.builds.Add(1)
	st.mu.Lock()
	listed := slices.Clone(st.policies)
	st.mu.Unlock()
	set := &policySet{byName: map[string]client.Object{}}
	for _, p := range listed {
		set.ordered = append(set.ordered, routing.Prepare(p, routing.NewExpressionCache()))
		set.byName[p.Name] = p
	}
	set.index = routing.NewIndex(routing.Sort(set.ordered))
	st.started <- n
	if g := st.gates[n]; g != nil {
		<-g
	}
	return set, nil
}

func escalationPolicy(name string, category securityv1alpha1.IncidentCategory) *securityv1alpha1.EscalationPolicy {
	return &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: name, Generation: 1},
		Spec:       securityv1alpha1.EscalationPolicySpec{Continue: true, Match: securityv1alpha1.PolicyMatch{Categories: []securityv1alpha1.IncidentCategory{category}}},
	}
}

// routedBy names the policies the set routes a lost laptop to.
func routedBy(set *policySet) []string {
	lost := &securityv1alpha1.Incident{Spec: securityv1alpha1.IncidentSpec{Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh}}
	var out []string
	for _, m := range set.index.Route(lost, nil).Matched {
		out = append(out, m.Name)
	}
	return out
}

// getting calls get for the namespace "council" in a goroutine of its own
// and returns where the set arrives.
func getting(ctx context.Context, t *testing.T, sets *policySets, build func(context.Context) (*policySet, error)) <-chan *policySet {
	got := make(chan *policySet, 1)
	go func() {
		set, err := sets.get(ctx, "council", build)
		if err != nil {
			t.Error(err)
		}
		got <- set
	}()
	return got
}

// waitForWaiters returns once n callers wait for the namespace's build.
func waitForWaiters(t *testing.T, sets *policySets, namespace string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		sets.mu.Lock()
		b := sets.building[namespace]
		waiting := b != nil && b.waiters == n
		sets.mu.Unlock()
		if waiting {
			return
		}
	}
	t.Fatalf("%d callers never came to wait for the build", n)
}

// TestPolicySetsOneBuildPerChange has many workers route incidents of one
// namespace at once after a change: they wait for one build and share it.
func TestPolicySetsOneBuildPerChange(t *testing.T) {
	const workers = 8
	ctx := context.Background()
	store := newPolicyStore(escalationPolicy("losses", securityv1alpha1.CategoryLoss))
	sets := newPolicySets()
	for change := range int32(2) {
		if change > 0 {
			store.add(escalationPolicy("also-losses", securityv1alpha1.CategoryLoss))
			sets.invalidate("council")
		}
		gate := store.gate(change + 1)
		got := make([]*policySet, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				set, err := sets.get(ctx, "council", store.build)
				if err != nil {
					t.Error(err)
				}
				got[w] = set
			})
		}
		<-store.started
		waitForWaiters(t, sets, "council", workers-1)
		close(gate)
		wg.Wait()
		if n := store.builds.Load(); n != change+1 {
			t.Fatalf("after %d changes, %d builds", change+1, n)
		}
		for _, set := range got {
			if set != got[0] {
				t.Fatal("the workers were given different sets")
			}
		}
		// Later incidents read the kept set.
		if set, _ := sets.get(ctx, "council", store.build); set != got[0] {
			t.Fatal("the set was not kept")
		}
		if n := store.builds.Load(); n != change+1 {
			t.Fatalf("a kept set was built again: %d builds", n)
		}
	}
	if got, want := routedBy(must(sets.get(ctx, "council", store.build))), []string{"also-losses", "losses"}; !slices.Equal(got, want) {
		t.Errorf("routed to %v, want %v", got, want)
	}
}

// TestPolicySetsChangeDuringBuild changes a policy while the set is being
// built from a list that may predate the change: that set serves the
// callers who asked before the change, is not kept, and a caller after the
// change builds afresh rather than wait for it.
func TestPolicySetsChangeDuringBuild(t *testing.T) {
	cases := map[string]func(*policySets){
		"a policy of the namespace, or its labels": func(s *policySets) { s.invalidate("council") },
		"a cluster policy":                         func(s *policySets) { s.invalidateAll() },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := newPolicyStore(escalationPolicy("losses", securityv1alpha1.CategoryLoss))
			sets := newPolicySets()
			gate := store.gate(1)
			before := getting(ctx, t, sets, store.build)
			<-store.started // build 1 has listed the policies

			store.add(escalationPolicy("new-losses", securityv1alpha1.CategoryLoss))
			change(sets)

			// A caller after the change does not wait for the older build.
			built := getting(ctx, t, sets, store.build)
			var after *policySet
			select {
			case after = <-built:
			case <-time.After(10 * time.Second):
				close(gate)
				t.Fatal("a caller after the change waited for the build that began before it")
			}
			if got, want := routedBy(after), []string{"losses", "new-losses"}; !slices.Equal(got, want) {
				t.Errorf("after the change, routed to %v, want %v", got, want)
			}
			close(gate)
			if got, want := routedBy(<-before), []string{"losses"}; !slices.Equal(got, want) {
				t.Errorf("the caller before the change routed to %v, want %v", got, want)
			}
			// The older build, ending last, did not replace the newer set.
			if set, _ := sets.get(ctx, "council", store.build); set != after {
				t.Error("the set built before the change replaced the one built after it")
			}
			if n := store.builds.Load(); n != 2 {
				t.Errorf("%d builds, want 2", n)
			}
		})
	}
}

// TestPolicySetsStaleBuildIsNotKept changes a policy while the only build
// runs: the next caller builds again and sees the change.
func TestPolicySetsStaleBuildIsNotKept(t *testing.T) {
	ctx := context.Background()
	store := newPolicyStore(escalationPolicy("losses", securityv1alpha1.CategoryLoss))
	sets := newPolicySets()
	gate := store.gate(1)
	done := getting(ctx, t, sets, store.build)
	<-store.started
	store.add(escalationPolicy("new-losses", securityv1alpha1.CategoryLoss))
	sets.invalidate("council")
	close(gate)
	<-done

	set, err := sets.get(ctx, "council", store.build)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.builds.Load(); n != 2 {
		t.Errorf("%d builds, want a fresh one after the change", n)
	}
	if got, want := routedBy(set), []string{"losses", "new-losses"}; !slices.Equal(got, want) {
		t.Errorf("routed to %v, want %v", got, want)
	}
}

// TestPolicySetsFailedBuild gives the waiters the build's error and keeps
// nothing, so the next caller tries again; a build that panics releases
// its waiters with an error.
func TestPolicySetsFailedBuild(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		build func() (*policySet, error)
		want  error
	}{
		"error": {build: func() (*policySet, error) { return nil, errUnreadable }, want: errUnreadable},
		"panic": {build: func() (*policySet, error) { panic("broken") }, want: errBuildAbandoned},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sets := newPolicySets()
			release := make(chan struct{})
			started := make(chan struct{})
			start := sync.OnceFunc(func() { close(started) })
			failing := func(context.Context) (*policySet, error) {
				start()
				<-release
				return tc.build()
			}
			go func() {
				defer func() { _ = recover() }()
				_, _ = sets.get(ctx, "council", failing)
			}()
			<-started
			waited := make(chan error)
			go func() {
				_, err := sets.get(ctx, "council", failing)
				waited <- err
			}()
			waitForWaiters(t, sets, "council", 1)
			close(release)
			if err := <-waited; !errors.Is(err, tc.want) {
				t.Errorf("the waiter got %v, want %v", err, tc.want)
			}
			store := newPolicyStore(escalationPolicy("losses", securityv1alpha1.CategoryLoss))
			if _, err := sets.get(ctx, "council", store.build); err != nil || store.builds.Load() != 1 {
				t.Errorf("after a failed build the next caller did not build: %v", err)
			}
		})
	}
}

// TestPolicySetsContextEnds: a waiter whose own context ends stops waiting;
// a waiter whose builder's context ends builds the set itself rather than
// fail for someone else's reason.
func TestPolicySetsContextEnds(t *testing.T) {
	store := newPolicyStore(escalationPolicy("losses", securityv1alpha1.CategoryLoss))
	sets := newPolicySets()
	builder, cancelBuilder := context.WithCancel(context.Background())
	started := make(chan struct{})
	build := func(ctx context.Context) (*policySet, error) {
		if ctx == builder {
			close(started)
			<-ctx.Done()
			return nil, fmt.Errorf("listing policies: %w", ctx.Err())
		}
		return store.build(ctx)
	}
	builderDone := make(chan error)
	go func() {
		_, err := sets.get(builder, "council", build)
		builderDone <- err
	}()
	<-started

	impatient, cancelImpatient := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() {
		_, err := sets.get(impatient, "council", build)
		gaveUp <- err
	}()
	waitForWaiters(t, sets, "council", 1)
	cancelImpatient()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the waiter whose context ended got %v", err)
		}
	case <-time.After(10 * time.Second):
		cancelBuilder()
		t.Fatal("the waiter whose context ended kept waiting for the build")
	}

	type result struct {
		set *policySet
		err error
	}
	waited := make(chan result)
	go func() {
		set, err := sets.get(context.Background(), "council", build)
		waited <- result{set, err}
	}()
	waitForWaiters(t, sets, "council", 2)
	cancelBuilder()
	if err := <-builderDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the builder got %v", err)
	}
	r := <-waited
	if r.err != nil {
		t.Fatalf("the waiter failed for its builder's context: %v", r.err)
	}
	if got, want := routedBy(r.set), []string{"losses"}; !slices.Equal(got, want) {
		t.Errorf("routed to %v, want %v", got, want)
	}
}

var errUnreadable = errors.New("the cache cannot be read")

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
