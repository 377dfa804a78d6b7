package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/receiver"
	"github.com/incidentops/incident-operator/internal/routing"
)

// secretRecheckInterval is how often a policy waiting for a Secret looks
// again. Secrets are read by direct GET, never watched, so that the operator
// needs no cluster-wide access to them.
const secretRecheckInterval = 30 * time.Second

// EscalationPolicyReconciler validates policies and reports whether they can
// be used: everything the schema cannot check (internal/policycheck), and
// that every Secret they name is available.
type EscalationPolicyReconciler struct {
	client.Client
	// Secrets reads the Secrets receivers name.
	Secrets     receiver.Secrets
	Expressions *routing.ExpressionCache
	Renderers   *rendererCache
	// Checks is what the policy checks need from the operator.
	Checks policycheck.Environment
	// Namespaces are those the operator watches.
	Namespaces watchedNamespaces
	Clock      clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies/status,verbs=patch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=clusterescalationpolicies,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=clusterescalationpolicies/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func (r *EscalationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	policy := &securityv1alpha1.EscalationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
		if apierrors.IsNotFound(err) {
			r.Expressions.Forget(req.NamespacedName)
			r.Renderers.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := policy.DeepCopy()
	defer func() {
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, policy, before, policyStatus))
	}()
	taken, err := r.nameTaken(ctx, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	if taken != "" {
		markStalled(&policy.Status.Conditions, policy.Generation, r.Clock.Now(), ReasonNameTaken, taken)
		policy.Status.ObservedGeneration = policy.Generation
		// A cluster policy's event, or the namespace's, brings it back.
		return ctrl.Result{}, nil
	}
	return r.check(ctx, policy, policy.Namespace)
}

// ReasonNameTaken: a ClusterEscalationPolicy that applies to the
// namespace has the policy's name, and routing keeps the cluster's.
const ReasonNameTaken = "NameTaken"

// nameTaken says why a namespace's policy is left out of routing because a
// cluster policy applying to its namespace has its name, or "".
func (r *EscalationPolicyReconciler) nameTaken(ctx context.Context, policy *securityv1alpha1.EscalationPolicy) (string, error) {
	cluster := &securityv1alpha1.ClusterEscalationPolicy{}
	if err := r.Get(ctx, types.NamespacedName{Name: policy.Name}, cluster); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Get(ctx, types.NamespacedName{Name: policy.Namespace}, ns); client.IgnoreNotFound(err) != nil {
		return "", err
	}
	candidates := routing.ForNamespace(ns.Labels, []*securityv1alpha1.ClusterEscalationPolicy{cluster}, []*securityv1alpha1.EscalationPolicy{policy})
	for _, e := range candidates.Excluded {
		if e.Namespaced != nil {
			return e.Reason, nil
		}
	}
	return "", nil
}

// check runs every check on a policy, its own or a cluster policy's view,
// and sets its conditions. secretNamespace holds its receivers' Secrets.
func (r *EscalationPolicyReconciler) check(ctx context.Context, policy *securityv1alpha1.EscalationPolicy, secretNamespace string) (ctrl.Result, error) {
	generation := policy.Generation
	conditions := &policy.Status.Conditions
	if problems := policycheck.Run(policy, r.Checks); len(problems) > 0 {
		reason, message := policycheck.Summary(problems)
		markStalled(conditions, generation, r.Clock.Now(), reason, truncateBytes(message, maxConditionMessage))
		policy.Status.ObservedGeneration = generation
		// Only a new generation, or a restart with other settings, can fix
		// these; retrying would not help.
		return ctrl.Result{}, reconcile.TerminalError(errors.New(message))
	}

	missing, err := unavailableSecrets(ctx, r.Secrets, secretNamespace, policy.Spec.Receivers)
	if err != nil {
		return ctrl.Result{}, err
	}
	policy.Status.ObservedGeneration = generation
	if len(missing) > 0 {
		markStalled(conditions, generation, r.Clock.Now(), securityv1alpha1.ReasonSecretNotFound,
			truncateBytes(strings.Join(missing, "; "), maxConditionMessage))
		return ctrl.Result{RequeueAfter: secretRecheckInterval}, nil
	}

	markReady(conditions, generation, r.Clock.Now(), fmt.Sprintf("%d receivers, %d escalation levels", len(policy.Spec.Receivers), len(policy.Spec.Escalation.Levels)))
	return ctrl.Result{}, nil
}

// unavailableSecrets lists the Secret keys that receivers, of a policy or
// a report, name in namespace and that cannot be used: missing, not
// labelled for the operator, or without the key. Each names its field.
func unavailableSecrets(ctx context.Context, secrets receiver.Secrets, namespace string, receivers []securityv1alpha1.Receiver) ([]string, error) {
	var missing []string
	for i := range receivers {
		spec := &receivers[i]
		for _, use := range receiver.SecretsOf(spec) {
			_, err := secrets.Key(ctx, namespace, use.Ref)
			switch {
			case err == nil:
			case receiver.IsUnavailable(err):
				missing = append(missing, fmt.Sprintf("spec.receivers[%d].%s: receiver %q: %v", i, use.Field, spec.Name, err))
			default:
				return nil, err
			}
		}
	}
	return missing, nil
}

func policyStatus(p *securityv1alpha1.EscalationPolicy) any { return p.Status }

// SetupWithManager registers the controller. A cluster policy, or a change
// of a namespace's labels, brings back the policies whose name it may take.
func (r *EscalationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.EscalationPolicy{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, readinessRewritten()))).
		Watches(&securityv1alpha1.ClusterEscalationPolicy{}, handler.EnqueueRequestsFromMapFunc(r.sameName),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.ofNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}, r.Namespaces.predicate())).
		Named("escalationpolicy").
		Complete(r)
}

// watchedNamespaces are the namespaces an operator watches, or nil for all.
type watchedNamespaces map[string]bool

func newWatchedNamespaces(names []string) watchedNamespaces {
	if len(names) == 0 {
		return nil
	}
	w := watchedNamespaces{}
	for _, n := range names {
		w[n] = true
	}
	return w
}

// predicate passes the Namespaces watched: an operator that watches some
// has no cache of the others' objects to look them up in.
func (w watchedNamespaces) predicate() predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool { return w == nil || w[o.GetName()] })
}

// readinessRewritten passes a change of a policy's Ready condition that left
// its spec alone: a status written by someone else (a person, another
// operator) is judged again and corrected, so that what people and
// `kubectl incident why` read is what routing obeys. The operator's own
// writes pass too, and find nothing to change.
func readinessRewritten() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !equality.Semantic.DeepEqual(readyOf(e.ObjectOld), readyOf(e.ObjectNew))
		},
	}
}

// readyOf is a policy's Ready condition, of either kind.
func readyOf(o client.Object) *metav1.Condition {
	switch p := o.(type) {
	case *securityv1alpha1.EscalationPolicy:
		return meta.FindStatusCondition(p.Status.Conditions, securityv1alpha1.ConditionReady)
	case *securityv1alpha1.ClusterEscalationPolicy:
		return meta.FindStatusCondition(p.Status.Conditions, securityv1alpha1.ConditionReady)
	}
	return nil
}

// sameName maps a cluster policy to the namespaces' policies of its name.
func (r *EscalationPolicyReconciler) sameName(ctx context.Context, o client.Object) []reconcile.Request {
	var list securityv1alpha1.EscalationPolicyList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing escalation policies")
		return nil
	}
	var requests []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Name == o.GetName() {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return requests
}

// ofNamespace maps a namespace to its policies.
func (r *EscalationPolicyReconciler) ofNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list securityv1alpha1.EscalationPolicyList
	if err := r.List(ctx, &list, client.InNamespace(o.GetName()), client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing escalation policies", "namespace", o.GetName())
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return requests
}
