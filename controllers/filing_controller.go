package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
)

// FilingReconciler says on each Filing whether it still matches its
// incident and its regime's stage, and whether the times people recorded
// on it hold together. The incident controller reads the steps; this one
// only reports what a person must correct.
type FilingReconciler struct {
	client.Client
	Clock clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=filings/status,verbs=patch

// Filing condition reasons.
const (
	ReasonRegimeNotFound = "RegimeNotFound"
	ReasonStageChanged   = "StageChanged"
	ReasonTimesDisagree  = "TimesDisagree"
)

// indexFilingRegime indexes Filings by their regime.
const indexFilingRegime = "spec.regime"

func (r *FilingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	filing := &securityv1alpha1.Filing{}
	if err := r.Get(ctx, req.NamespacedName, filing); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := filing.DeepCopy()
	defer func() {
		if retErr == nil {
			filing.Status.ObservedGeneration = filing.Generation
		}
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, filing, before, func(f *securityv1alpha1.Filing) any { return f.Status }))
	}()
	status, now, spec := &filing.Status, r.Clock.Now(), &filing.Spec

	incident := &securityv1alpha1.Incident{}
	err := r.Get(ctx, types.NamespacedName{Namespace: filing.Namespace, Name: spec.Incident}, incident)
	switch {
	case apierrors.IsNotFound(err):
		markStalled(&status.Conditions, filing.Generation, now, ReasonIncidentNotFound,
			"spec.incident: incident "+spec.Incident+" does not exist in namespace "+filing.Namespace+"; nothing reads this filing")
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	regime := &securityv1alpha1.RegulatoryRegime{}
	err = r.Get(ctx, types.NamespacedName{Name: spec.Regime}, regime)
	switch {
	case apierrors.IsNotFound(err):
		markStalled(&status.Conditions, filing.Generation, now, ReasonRegimeNotFound,
			"spec.regime: the regulatory regime "+spec.Regime+" does not exist: install it (config/regimes), or this filing's deadlines cannot be known")
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	status.Deadline = obligationDeadline(filing, incident)
	if problem := stageDiffers(filing, regime); problem != "" {
		markStalled(&status.Conditions, filing.Generation, now, ReasonStageChanged, problem)
		return ctrl.Result{}, nil
	}
	if problem := timesDisagree(filing, incident, now); problem != "" {
		markStalled(&status.Conditions, filing.Generation, now, ReasonTimesDisagree, problem)
		return ctrl.Result{}, nil
	}
	markReady(&status.Conditions, filing.Generation, now, fmt.Sprintf("%s/%s (%s) of incident %s", spec.Regime, spec.Stage, spec.Citation, incident.Name))
	return ctrl.Result{}, nil
}

// obligationDeadline is the deadline of the incident's obligation that
// the Filing records; nil when it has none yet.
func obligationDeadline(filing *securityv1alpha1.Filing, incident *securityv1alpha1.Incident) *metav1.Time {
	for _, o := range incident.Status.Obligations {
		if o.Filing == filing.Name && o.Deadline != nil {
			return o.Deadline.DeepCopy()
		}
	}
	return nil
}

// obligationDeadlinesChanged passes an incident whose obligations'
// deadlines changed: its Filings copy them.
func obligationDeadlinesChanged(e event.UpdateEvent) bool {
	deadlines := func(o client.Object) map[string]string {
		m := map[string]string{}
		if inc, ok := o.(*securityv1alpha1.Incident); ok {
			for _, ob := range inc.Status.Obligations {
				if ob.Deadline != nil {
					m[ob.Filing] = ob.Deadline.UTC().String()
				}
			}
		}
		return m
	}
	return !maps.Equal(deadlines(e.ObjectOld), deadlines(e.ObjectNew))
}

// stageDiffers says how the Filing differs from its regime's stage, naming
// the field; empty when it does not. A regime changed after the Filing was
// opened leaves the Filing as it was opened: this says so.
func stageDiffers(filing *securityv1alpha1.Filing, regime *securityv1alpha1.RegulatoryRegime) string {
	spec := &filing.Spec
	i := slices.IndexFunc(regime.Spec.Stages, func(s securityv1alpha1.RegimeStage) bool { return s.Name == spec.Stage })
	if i < 0 {
		return fmt.Sprintf("spec.stage: the regime %s has no stage %q", spec.Regime, spec.Stage)
	}
	stage := &regime.Spec.Stages[i]
	switch {
	case spec.Citation != stage.Citation:
		return fmt.Sprintf("spec.citation: %q, but the regime's stage cites %q", spec.Citation, stage.Citation)
	case spec.Recipient != stage.Recipient:
		return fmt.Sprintf("spec.recipient: %s, but the regime's stage goes to %s", spec.Recipient, stage.Recipient)
	case !slices.Equal(spec.RequiredContent, stage.RequiredContent):
		return fmt.Sprintf("spec.requiredContent: %v, but the regime's stage asks for %v", spec.RequiredContent, stage.RequiredContent)
	case int(spec.AgreementsRequired) != stage.AgreementsOrDefault():
		return fmt.Sprintf("spec.agreementsRequired: %d, but the regime's stage asks for %d", spec.AgreementsRequired, stage.AgreementsOrDefault())
	}
	return ""
}

// timesDisagree names the first recorded time that is in the future, or
// before the step it follows; empty when they hold together.
func timesDisagree(filing *securityv1alpha1.Filing, incident *securityv1alpha1.Incident, now time.Time) string {
	spec := &filing.Spec
	if d := spec.Decision; d != nil && d.At != nil && d.At.After(now.Add(clockLeeway)) {
		return fmt.Sprintf("spec.decision.at: %s is in the future: a decision is recorded once made", d.At.UTC().Format(time.RFC3339))
	}
	type stamp struct {
		field string
		at    time.Time
	}
	var stamps []stamp
	if f := spec.Filed; f != nil {
		stamps = append(stamps, stamp{"spec.filed.at", f.At.Time})
	}
	if a := spec.Acknowledgement; a != nil {
		stamps = append(stamps, stamp{"spec.acknowledgement.at", a.At.Time})
	}
	for _, c := range spec.Correspondence {
		stamps = append(stamps, stamp{fmt.Sprintf("spec.correspondence[%d].at", c.Sequence), c.At.Time})
	}
	for _, s := range stamps {
		if s.at.After(now.Add(clockLeeway)) {
			return fmt.Sprintf("%s: %s is in the future: record a step once it has happened", s.field, s.at.UTC().Format(time.RFC3339))
		}
	}
	if known := incident.StatedKnownSince(); known != nil && len(stamps) > 0 && stamps[0].at.Before(known.Add(-clockLeeway)) {
		return fmt.Sprintf("%s: %s is before incident %s was known of (%s)", stamps[0].field, stamps[0].at.UTC().Format(time.RFC3339),
			incident.Name, known.UTC().Format(time.RFC3339))
	}
	for _, s := range stamps[min(1, len(stamps)):] {
		if s.at.Before(stamps[0].at.Add(-clockLeeway)) {
			return fmt.Sprintf("%s: %s is before the filing it follows (%s)", s.field, s.at.UTC().Format(time.RFC3339), stamps[0].at.UTC().Format(time.RFC3339))
		}
	}
	return ""
}

// SetupWithManager registers the controller: a change of the incident or
// of the regime reaches each of their Filings.
func (r *FilingReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.Filing{}).
		Watches(&securityv1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(r.filingsOf(indexFilingIncident)),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{},
				predicate.Funcs{UpdateFunc: obligationDeadlinesChanged}))).
		Watches(&securityv1alpha1.RegulatoryRegime{}, handler.EnqueueRequestsFromMapFunc(r.filingsOf(indexFilingRegime)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("filing").
		Complete(r)
}

// filingsOf maps an incident or a regime to its Filings by index.
func (r *FilingReconciler) filingsOf(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		opts := []client.ListOption{client.MatchingFields{index: o.GetName()}}
		if o.GetNamespace() != "" {
			opts = append(opts, client.InNamespace(o.GetNamespace()))
		}
		var list securityv1alpha1.FilingList
		if err := r.List(ctx, &list, opts...); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing filings", "of", o.GetName())
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return requests
	}
}
