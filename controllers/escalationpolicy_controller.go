package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
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
	// SecretReader reads Secrets straight from the API server.
	SecretReader client.Reader
	Expressions  *routing.ExpressionCache
	Renderers    *rendererCache
	// Checks is what the policy checks need from the operator.
	Checks policycheck.Environment
	Clock  clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies/status,verbs=get;patch
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

	missing, err := r.missingSecrets(ctx, policy)
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

// missingSecrets lists the Secret keys the policy names that cannot be
// used, each with the field that names it.
func (r *EscalationPolicyReconciler) missingSecrets(ctx context.Context, policy *securityv1alpha1.EscalationPolicy) ([]string, error) {
	var missing []string
	for i := range policy.Spec.Receivers {
		receiver := &policy.Spec.Receivers[i]
		for _, use := range receiverSecrets(receiver) {
			_, err := readSecretKey(ctx, r.SecretReader, policy.Namespace, use.ref)
			switch {
			case err == nil:
			case isSecretMissing(err):
				missing = append(missing, fmt.Sprintf("spec.receivers[%d].%s: receiver %q: %v", i, use.field, receiver.Name, err))
			default:
				return nil, err
			}
		}
	}
	return missing, nil
}

// secretUnavailableError says that a Secret key cannot be used, the same
// way whether the Secret is missing, lacks the label, or lacks the key: a
// policy author who may not read Secrets must not learn which Secrets and
// keys exist from the policy's status.
type secretUnavailableError struct {
	namespace, name, key string
}

func (e *secretUnavailableError) Error() string {
	return fmt.Sprintf("Secret %s/%s key %q is not available to the operator: the Secret must exist, be labelled %s=true, and hold the key",
		e.namespace, e.name, e.key, securityv1alpha1.NotificationSecretLabel)
}

func isSecretMissing(err error) bool {
	var missing *secretUnavailableError
	return errors.As(err, &missing)
}

// readSecretKey reads one key of a Secret in namespace by direct GET. Only
// Secrets labelled for the operator are used.
func readSecretKey(ctx context.Context, reader client.Reader, namespace string, ref securityv1alpha1.SecretKeyReference) (string, error) {
	unavailable := &secretUnavailableError{namespace: namespace, name: ref.Name, key: ref.Key}
	// A name the API could not hold (stored before validation tightened)
	// would otherwise fail every GET as a transient error, for ever.
	if len(validation.IsDNS1123Subdomain(ref.Name)) > 0 {
		return "", unavailable
	}
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", unavailable
		}
		return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, ref.Name, err)
	}
	value, ok := secret.Data[ref.Key]
	if secret.Labels[securityv1alpha1.NotificationSecretLabel] != "true" || !ok || len(value) == 0 {
		return "", unavailable
	}
	return strings.TrimSpace(string(value)), nil
}

func policyStatus(p *securityv1alpha1.EscalationPolicy) any { return p.Status }

// SetupWithManager registers the controller.
func (r *EscalationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.EscalationPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("escalationpolicy").
		Complete(r)
}
