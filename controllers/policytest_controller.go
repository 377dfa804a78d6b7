package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1 "k8s.io/api/core/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/policytest"
	"github.com/incidentops/incident-operator/internal/routing/gather"
)

// PolicyTestReconciler runs each PolicyTest's cases and invariants, as
// `kubectl incident test` runs them offline, against the policies, cluster
// policies, assets and departments the cluster holds, whenever one of them
// or the namespace's labels change, and says on the PolicyTest which fail.
type PolicyTestReconciler struct {
	client.Client
	Clock  clock.Clock
	Events eventRecorder
	// Checks are the operator's settings policies are judged with.
	Checks policycheck.Environment
	// Namespaces are those the operator watches, nil for all: it has no
	// cache of the others' objects.
	Namespaces watchedNamespaces
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=policytests,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=policytests/status,verbs=patch

// PolicyTest condition reasons and events.
const (
	ReasonCaseFailed       = "CaseFailed"
	ReasonInvariantBroken  = "InvariantBroken"
	EventPolicyTestFailing = "PolicyTestFailing"
	EventPolicyTestPassing = "PolicyTestPassing"
	// maxDifferences is how many differences a result keeps in status.
	maxDifferences = 5
	// maxDifferenceLength bounds each one.
	maxDifferenceLength = 1024
)

var policyTestFailures = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "incidentops_policytest_failures",
	Help: "Cases and invariants of each PolicyTest that failed in its last run.",
}, []string{"namespace", "name"})

func init() { metrics.Registry.MustRegister(policyTestFailures) }

func (r *PolicyTestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	test := &securityv1alpha1.PolicyTest{}
	if err := r.Get(ctx, req.NamespacedName, test); err != nil {
		if apierrors.IsNotFound(err) {
			policyTestFailures.DeleteLabelValues(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := test.DeepCopy()
	defer func() {
		if retErr == nil {
			test.Status.ObservedGeneration = test.Generation
		}
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, test, before, func(t *securityv1alpha1.PolicyTest) any { return t.Status }))
	}()
	objects, labels, err := r.objectsOf(ctx, test.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	status, now := &test.Status, r.Clock.Now()
	status.Results, status.Passed, status.Failed = nil, 0, 0
	var first string
	var reason string
	record := func(name, kind string, differences []string) {
		res := securityv1alpha1.PolicyTestResult{Name: name, Kind: kind, Passed: len(differences) == 0}
		for i, d := range differences {
			if i == maxDifferences {
				res.Differences = append(res.Differences, fmt.Sprintf("and %d more", len(differences)-i))
				break
			}
			res.Differences = append(res.Differences, truncate(d, maxDifferenceLength))
		}
		status.Results = append(status.Results, res)
		if res.Passed {
			status.Passed++
			return
		}
		status.Failed++
		if first == "" {
			first = fmt.Sprintf("%s %q fails: %s", strings.ToLower(kind), name, truncate(differences[0], maxDifferenceLength))
			reason = ReasonCaseFailed
			if kind == "Invariant" {
				reason = ReasonInvariantBroken
			}
		}
	}
	for i := range test.Spec.Cases {
		c := test.Spec.Cases[i].DeepCopy()
		if c.Namespace != "" && c.Namespace != test.Namespace {
			record(c.Name, "Case", []string{fmt.Sprintf("spec.cases[%d].namespace: %s; in the cluster a case runs in the PolicyTest's namespace, %s", i, c.Namespace, test.Namespace)})
			continue
		}
		c.Namespace = test.Namespace
		if c.NamespaceLabels == nil {
			c.NamespaceLabels = labels
		}
		run, err := policytest.Simulate(ctx, objects, c)
		if err != nil {
			record(c.Name, "Case", []string{err.Error()})
			continue
		}
		record(c.Name, "Case", run.Differences())
	}
	if invariants := test.Spec.Invariants; len(invariants) > 0 {
		files := make([]string, len(invariants))
		verdicts, _, _ := policytest.Check(objects, invariants, files, labels)
		for _, v := range verdicts {
			var differences []string
			switch {
			case v.Err != nil:
				differences = []string{v.Err.Error()}
			case v.Counterexample != "":
				differences = strings.Split(v.Counterexample, "\n")
			}
			record(v.Invariant.Name, "Invariant", differences)
		}
	}
	lastRun := metav1.NewTime(now)
	status.LastRunAt = &lastRun
	policyTestFailures.WithLabelValues(test.Namespace, test.Name).Set(float64(status.Failed))
	wasFailing := before.Status.Failed > 0 && before.Status.ObservedGeneration > 0
	if status.Failed > 0 {
		markStalled(&status.Conditions, test.Generation, now, reason,
			fmt.Sprintf("%d of %d fail; %s", status.Failed, status.Failed+status.Passed, first))
		if !wasFailing || before.Status.Conditions == nil || readyMessage(before) != readyMessage(test) {
			r.Events.warning(test, EventPolicyTestFailing, "Run", "%s", readyMessage(test))
		}
		return ctrl.Result{}, nil
	}
	markReady(&status.Conditions, test.Generation, now, fmt.Sprintf("%d cases and invariants pass", status.Passed))
	if wasFailing {
		r.Events.normal(test, EventPolicyTestPassing, "Run", "every case and invariant passes again")
	}
	return ctrl.Result{}, nil
}

func readyMessage(t *securityv1alpha1.PolicyTest) string {
	for _, c := range t.Status.Conditions {
		if c.Type == securityv1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

// objectsOf reads what the namespace's incidents are decided on from the
// cache: its policies, the cluster policies, its assets and departments,
// and its labels.
func (r *PolicyTestReconciler) objectsOf(ctx context.Context, ns string) (*policytest.Objects, map[string]string, error) {
	env := r.Checks
	objects := &policytest.Objects{Env: &env}
	var policies securityv1alpha1.EscalationPolicyList
	if err := r.List(ctx, &policies, client.InNamespace(ns)); err != nil {
		return nil, nil, err
	}
	var cluster securityv1alpha1.ClusterEscalationPolicyList
	if err := r.List(ctx, &cluster); err != nil {
		return nil, nil, err
	}
	var assets securityv1alpha1.AssetList
	if err := r.List(ctx, &assets, client.InNamespace(ns)); err != nil {
		return nil, nil, err
	}
	var departments securityv1alpha1.DepartmentList
	if err := r.List(ctx, &departments, client.InNamespace(ns)); err != nil {
		return nil, nil, err
	}
	objects.Policies = pointersTo(policies.Items)
	objects.ClusterPolicies = pointersTo(cluster.Items)
	objects.Assets = pointersTo(assets.Items)
	objects.Departments = pointersTo(departments.Items)
	labels, err := gather.Labels(ctx, r.Client, ns)
	if err != nil {
		return nil, nil, err
	}
	return objects, labels, nil
}

// SetupWithManager registers the controller: a change of anything the
// cases read runs them again.
func (r *PolicyTestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	inNamespace := handler.EnqueueRequestsFromMapFunc(r.testsIn(false))
	everywhere := handler.EnqueueRequestsFromMapFunc(r.testsIn(true))
	changed := builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.PolicyTest{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&securityv1alpha1.EscalationPolicy{}, inNamespace, changed).
		Watches(&securityv1alpha1.ClusterEscalationPolicy{}, everywhere, changed).
		Watches(&securityv1alpha1.Asset{}, inNamespace, changed).
		Watches(&securityv1alpha1.Department{}, inNamespace, changed).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.testsOfNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}, r.Namespaces.predicate())).
		Named("policytest").
		Complete(r)
}

// testsIn maps an object to the PolicyTests of its namespace, or of every
// namespace for a cluster policy.
func (r *PolicyTestReconciler) testsIn(everywhere bool) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		if everywhere {
			var out []reconcile.Request
			if r.Namespaces == nil {
				return r.requests(ctx)
			}
			for ns := range r.Namespaces {
				out = append(out, r.requests(ctx, client.InNamespace(ns))...)
			}
			return out
		}
		return r.requests(ctx, client.InNamespace(o.GetNamespace()))
	}
}

func (r *PolicyTestReconciler) testsOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.requests(ctx, client.InNamespace(o.GetName()))
}

func (r *PolicyTestReconciler) requests(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list securityv1alpha1.PolicyTestList
	if err := r.List(ctx, &list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing policy tests")
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

func pointersTo[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
