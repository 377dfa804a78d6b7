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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/calendar"
	"github.com/incidentops/incident-operator/internal/routing"
)

// secretRecheckInterval is how often a policy waiting for a Secret looks
// again. Secrets are read by direct GET, never watched, so that the operator
// needs no cluster-wide access to them.
const secretRecheckInterval = 30 * time.Second

// EscalationPolicyReconciler validates policies and reports whether they can
// be used: the match expression compiles and every Secret they name exists.
type EscalationPolicyReconciler struct {
	client.Client
	// SecretReader reads Secrets straight from the API server.
	SecretReader client.Reader
	Expressions  *routing.ExpressionCache
	Renderers    *rendererCache
	// MailConfigured is true when the operator has an SMTP server, so that
	// email receivers can be used.
	MailConfigured bool
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=escalationpolicies/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

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
	policy.Status.ObservedGeneration = generation

	if _, err := r.Expressions.Get(req.NamespacedName, generation, policy.Spec.Match.Expression); err != nil {
		markStalled(conditions, generation, securityv1alpha1.ReasonInvalidExpression,
			fmt.Sprintf("spec.match.expression does not compile: %v", err))
		// Only a new generation can fix this; retrying would not help.
		return ctrl.Result{}, reconcile.TerminalError(err)
	}

	for i := range policy.Spec.Receivers {
		receiver := &policy.Spec.Receivers[i]
		if _, err := r.Renderers.get(policy, receiver); err != nil {
			markStalled(conditions, generation, securityv1alpha1.ReasonInvalidTemplate,
				fmt.Sprintf("spec.receivers[%d] (%s): %v", i, receiver.Name, err))
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		if receiver.Email != nil && !r.MailConfigured {
			markStalled(conditions, generation, securityv1alpha1.ReasonChannelNotConfigured,
				fmt.Sprintf("spec.receivers[%d] (%s): %v", i, receiver.Name, errNoMailServer))
			// A restart with SMTP settings re-reconciles every policy.
			return ctrl.Result{}, reconcile.TerminalError(errNoMailServer)
		}
	}

	if field := firstRoleTarget(policy); field != "" && !r.MailConfigured {
		markStalled(conditions, generation, securityv1alpha1.ReasonChannelNotConfigured,
			fmt.Sprintf("%s: people reached by role are sent e-mail: %v", field, errNoMailServer))
		return ctrl.Result{}, reconcile.TerminalError(errNoMailServer)
	}
	if sla := policy.Spec.SLA; sla != nil && sla.Calendar != nil {
		c := sla.Calendar
		if _, err := calendar.New(calendar.Spec{TimeZone: c.TimeZone, Days: c.Days, Opens: c.Opens, Closes: c.Closes, Holidays: c.Holidays}); err != nil {
			markStalled(conditions, generation, securityv1alpha1.ReasonInvalidCalendar, fmt.Sprintf("spec.sla.calendar.%v", err))
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
	}

	missing, err := r.missingSecrets(ctx, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(missing) > 0 {
		markStalled(conditions, generation, securityv1alpha1.ReasonSecretNotFound,
			strings.Join(missing, "; "))
		return ctrl.Result{RequeueAfter: secretRecheckInterval}, nil
	}

	markReady(conditions, generation, fmt.Sprintf("%d receivers, %d escalation levels", len(policy.Spec.Receivers), len(policy.Spec.Escalation.Levels)))
	return ctrl.Result{}, nil
}

// firstRoleTarget names the first notify target that is a role, or "".
func firstRoleTarget(policy *securityv1alpha1.EscalationPolicy) string {
	for i, level := range policy.Spec.Escalation.Levels {
		for j, target := range level.Notify {
			if target.Role != "" {
				return fmt.Sprintf("spec.escalation.levels[%d].notify[%d] (role %s)", i, j, target.Role)
			}
		}
	}
	if major := policy.Spec.Major; major != nil {
		for j, target := range major.Notify {
			if target.Role != "" {
				return fmt.Sprintf("spec.major.notify[%d] (role %s)", j, target.Role)
			}
		}
	}
	return ""
}

// missingSecrets lists the Secret keys the policy names that do not exist,
// as people would write them: secret "name" key "key".
func (r *EscalationPolicyReconciler) missingSecrets(ctx context.Context, policy *securityv1alpha1.EscalationPolicy) ([]string, error) {
	var missing []string
	for i := range policy.Spec.Receivers {
		receiver := &policy.Spec.Receivers[i]
		for _, ref := range receiverSecrets(receiver) {
			_, err := readSecretKey(ctx, r.SecretReader, policy.Namespace, ref)
			switch {
			case err == nil:
			case isSecretMissing(err):
				missing = append(missing, fmt.Sprintf("receiver %q: %v", receiver.Name, err))
			default:
				return nil, err
			}
		}
	}
	return missing, nil
}

// secretMissingError says which Secret or key is missing, never a value.
type secretMissingError struct {
	namespace, name, key string
	noSecret             bool
}

func (e *secretMissingError) Error() string {
	if e.noSecret {
		return fmt.Sprintf("Secret %s/%s not found", e.namespace, e.name)
	}
	return fmt.Sprintf("Secret %s/%s has no key %q", e.namespace, e.name, e.key)
}

func isSecretMissing(err error) bool {
	var missing *secretMissingError
	return errors.As(err, &missing)
}

// readSecretKey reads one key of a Secret in namespace by direct GET.
func readSecretKey(ctx context.Context, reader client.Reader, namespace string, ref securityv1alpha1.SecretKeyReference) (string, error) {
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &secretMissingError{namespace: namespace, name: ref.Name, noSecret: true}
		}
		return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, ref.Name, err)
	}
	value, ok := secret.Data[ref.Key]
	if !ok || len(value) == 0 {
		return "", &secretMissingError{namespace: namespace, name: ref.Name, key: ref.Key}
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
