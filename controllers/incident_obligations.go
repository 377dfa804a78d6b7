package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/obligation"
)

// +kubebuilder:rbac:groups=security.incidentops.io,resources=regulatoryregimes,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=filings,verbs=list;watch;create;open

// indexFilingIncident indexes Filings by the incident they belong to.
const indexFilingIncident = "spec.incident"

// Events about obligations.
const (
	EventObligationChanged = "ObligationChanged"
	EventObligationMissed  = "ObligationMissed"
	EventRegimeNotFound    = "RegimeNotFound"
)

// obligations works out what the regulatory regimes that apply to the
// incident ask of it: it opens a Filing for every stage that has none,
// reads the steps people recorded on them, and writes status.obligations,
// the next one due, and the RegulatoryObligations condition. It returns
// what the supervisory authority's obligation says for the authority clock,
// and when an open deadline falls next.
func (r *IncidentReconciler) obligations(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy) (*lifecycle.AuthorityFiling, time.Time, error) {
	regimes := r.regimesOf(ctx, incident, policies)
	if len(regimes) == 0 && len(incident.Status.Obligations) == 0 {
		return nil, time.Time{}, nil
	}
	filings, err := r.filingsOf(ctx, incident)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := r.Clock.Now()
	previous := incident.Status.Obligations
	var next []securityv1alpha1.ObligationStatus
	var authority *lifecycle.AuthorityFiling
	for _, regime := range regimes {
		byStage := make(map[string]*securityv1alpha1.Filing, len(regime.Spec.Stages))
		frozen, decidedAt := map[string]time.Time{}, map[string]time.Time{}
		for i := range regime.Spec.Stages {
			stage := &regime.Spec.Stages[i]
			name := securityv1alpha1.FilingName(incident.Name, regime.Name, stage.Name)
			filing := filings[name]
			if filing == nil {
				if filing, err = r.openFiling(ctx, incident, regime, stage, name); err != nil {
					return nil, time.Time{}, err
				}
			}
			byStage[stage.Name] = filing
			old := findObligation(previous, regime.Name, stage.Name)
			if old != nil && old.Frozen && old.Deadline != nil {
				frozen[stage.Name] = old.Deadline.Time
			}
			if at := decisionTime(filing, old, now); at != nil {
				decidedAt[stage.Name] = *at
			}
		}
		facts := obligation.FactsOf(&regime.Spec, incident, incident.Status.AwareAt.Time, byStage, frozen, decidedAt)
		for i, o := range obligation.Evaluate(&regime.Spec, facts, now) {
			status := obligationStatus(regime.Name, securityv1alpha1.FilingName(incident.Name, regime.Name, o.Stage), o)
			if at, ok := decidedAt[o.Stage]; ok {
				status.DecidedAt = new(metav1.NewTime(at.UTC()))
			}
			if notApplicable(incident) && status.State.Open() {
				status = securityv1alpha1.ObligationStatus{Regime: status.Regime, Stage: status.Stage, Citation: status.Citation,
					Recipient: status.Recipient, Filing: status.Filing, State: securityv1alpha1.ObligationNotApplicable,
					Missing: "", Missed: false}
			}
			next = append(next, status)
			if authority == nil && regime.Spec.Stages[i].Recipient == securityv1alpha1.RecipientSupervisoryAuthority {
				authority = authorityFiling(byStage[o.Stage], status)
			}
		}
	}
	r.tellObligations(incident, previous, next)
	incident.Status.Obligations = next
	setNextObligation(&incident.Status, now)
	markObligations(incident, now)
	return authority, nextDeadline(next, now), nil
}

// regimesOf is the regimes that apply to the incident: the operator's
// defaults, then those its policies name, each once, each only for the
// incidents its appliesTo describes. A regime a policy names that does not
// exist is said in an event; a default that does not exist is not
// installed, and applies to nothing.
func (r *IncidentReconciler) regimesOf(ctx context.Context, incident *securityv1alpha1.Incident, policies map[string]*securityv1alpha1.EscalationPolicy) []*securityv1alpha1.RegulatoryRegime {
	type named struct {
		name, by string
	}
	var names []named
	for _, name := range r.DefaultRegimes {
		names = append(names, named{name: name})
	}
	for _, ref := range incident.Status.Policies {
		if p := policies[ref.Name]; p != nil {
			for _, name := range p.Spec.Regimes {
				names = append(names, named{name: name, by: ref.KindOrDefault() + " " + ref.Name})
			}
		}
	}
	var regimes []*securityv1alpha1.RegulatoryRegime
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n.name] {
			continue
		}
		regime := &securityv1alpha1.RegulatoryRegime{}
		if err := r.Get(ctx, types.NamespacedName{Name: n.name}, regime); err != nil {
			if n.by != "" && apierrors.IsNotFound(err) {
				r.Events.warning(incident, EventRegimeNotFound, "Regime "+n.name,
					"%s names the regulatory regime %q, which does not exist: install it (config/regimes) or correct spec.regimes", n.by, n.name)
			} else if !apierrors.IsNotFound(err) {
				ctrl.LoggerFrom(ctx).Error(err, "Reading regulatory regime", "regime", n.name)
			}
			continue
		}
		seen[n.name] = true
		if regime.Spec.Applies(incident.Spec.Impact) {
			regimes = append(regimes, regime)
		}
	}
	return regimes
}

// filingsOf is the incident's Filings by name, from the cache.
func (r *IncidentReconciler) filingsOf(ctx context.Context, incident *securityv1alpha1.Incident) (map[string]*securityv1alpha1.Filing, error) {
	var list securityv1alpha1.FilingList
	if err := r.List(ctx, &list, client.InNamespace(incident.Namespace), client.MatchingFields{indexFilingIncident: incident.Name}); err != nil {
		return nil, fmt.Errorf("listing the incident's filings: %w", err)
	}
	filings := make(map[string]*securityv1alpha1.Filing, len(list.Items))
	for i := range list.Items {
		// A Filing of an earlier incident of the same name belongs to it.
		if f := &list.Items[i]; f.Of(incident) {
			filings[f.Name] = f
		}
	}
	return filings, nil
}

// openFiling creates the empty Filing of one stage, owned by the incident
// so that it goes with it; its steps are in the incident's audit trail.
func (r *IncidentReconciler) openFiling(ctx context.Context, incident *securityv1alpha1.Incident, regime *securityv1alpha1.RegulatoryRegime,
	stage *securityv1alpha1.RegimeStage, name string) (*securityv1alpha1.Filing, error) {
	filing := &securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: incident.Namespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: securityv1alpha1.GroupVersion.String(), Kind: "Incident", Name: incident.Name, UID: incident.UID,
			}},
		},
		Spec: securityv1alpha1.FilingSpec{
			Incident: incident.Name, Regime: regime.Name, Stage: stage.Name, Citation: stage.Citation,
			Recipient: stage.Recipient, RequiredContent: stage.RequiredContent, AgreementsRequired: int32(stage.AgreementsOrDefault()),
		},
	}
	err := r.Create(ctx, filing)
	switch {
	case apierrors.IsAlreadyExists(err):
		// Opened by an earlier reconcile the cache has not shown yet, or
		// left by a deleted incident of the same name: read it.
		existing := &securityv1alpha1.Filing{}
		if err := r.Get(ctx, client.ObjectKeyFromObject(filing), existing); err != nil {
			return nil, err
		}
		if !existing.Of(incident) {
			return nil, reconcile.TerminalError(fmt.Errorf("filing %s belongs to an earlier incident named %s: delete it, or let it go with that incident", name, incident.Name))
		}
		return existing, nil
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err):
		return nil, reconcile.TerminalError(fmt.Errorf("opening filing %s: %w", name, err))
	case err != nil:
		return nil, fmt.Errorf("opening filing %s: %w", name, err)
	}
	return filing, nil
}

// decisionTime is when the stage was decided or drafted: the decision's
// own time, else when an earlier reconcile first saw it, else now; nil
// while nothing is decided.
func decisionTime(filing *securityv1alpha1.Filing, old *securityv1alpha1.ObligationStatus, now time.Time) *time.Time {
	switch {
	case filing == nil || (filing.Spec.Decision == nil && filing.Spec.Draft == nil):
		return nil
	case filing.Spec.Decision != nil && filing.Spec.Decision.At != nil:
		return &filing.Spec.Decision.At.Time
	case old != nil && old.DecidedAt != nil:
		return &old.DecidedAt.Time
	}
	at := now.Truncate(time.Second)
	return &at
}

func findObligation(list []securityv1alpha1.ObligationStatus, regime, stage string) *securityv1alpha1.ObligationStatus {
	for i := range list {
		if list[i].Regime == regime && list[i].Stage == stage {
			return &list[i]
		}
	}
	return nil
}

func obligationStatus(regime, filing string, o obligation.Obligation) securityv1alpha1.ObligationStatus {
	s := securityv1alpha1.ObligationStatus{
		Regime: regime, Stage: o.Stage, Citation: o.Citation, Recipient: o.Recipient, Filing: filing,
		State: securityv1alpha1.ObligationState(o.State), Frozen: o.Frozen, WithoutUndueDelay: o.WithoutUndueDelay,
		Missed: o.Breached, Missing: truncate(o.Missing, 1024), AgreementsNeeded: int32(o.AgreementsNeeded),
	}
	if o.Deadline != nil {
		s.Deadline = new(metav1.NewTime(o.Deadline.UTC()))
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// notApplicable is true for an incident resolved as a false positive or a
// duplicate: there was nothing to tell anyone.
func notApplicable(incident *securityv1alpha1.Incident) bool {
	r := incident.Spec.Resolution
	return r != nil && (r.State == securityv1alpha1.ResolutionFalsePositive || r.State == securityv1alpha1.ResolutionDuplicate)
}

// authorityFiling is what the supervisory authority's obligation says for
// the authority clock kept by lifecycle.
func authorityFiling(filing *securityv1alpha1.Filing, status securityv1alpha1.ObligationStatus) *lifecycle.AuthorityFiling {
	a := &lifecycle.AuthorityFiling{Obligation: status.Regime + "/" + status.Stage}
	switch {
	case status.State == securityv1alpha1.ObligationNotRequired:
		a.NotRequired = true
		if filing != nil && filing.Spec.Decision != nil {
			a.Rationale = filing.Spec.Decision.Rationale
		}
	case filing != nil && filing.Spec.Filed != nil:
		a.FiledAt = new(filing.Spec.Filed.At.Time)
		a.Reference = filing.Spec.Filed.Reference
		a.DelayReason = filing.Spec.Filed.DelayReason
	}
	return a
}

// tellObligations emits an event for each obligation whose state changed,
// and a Warning for each that became missed.
func (r *IncidentReconciler) tellObligations(incident *securityv1alpha1.Incident, before, after []securityv1alpha1.ObligationStatus) {
	for _, o := range after {
		name := o.Regime + "/" + o.Stage
		old := findObligation(before, o.Regime, o.Stage)
		if old == nil || old.State != o.State {
			from := "opened"
			if old != nil {
				from = string(old.State)
			}
			r.Events.normal(incident, EventObligationChanged, "Obligation "+name, "%s (%s): %s → %s", name, o.Citation, from, o.State)
		}
		if o.Missed && (old == nil || !old.Missed) {
			r.Events.warning(incident, EventObligationMissed, "Obligation "+name, "%s (%s) missed its deadline %s: %s",
				name, o.Citation, o.Deadline.UTC().Format(time.RFC3339), o.Missing)
		}
	}
}

// setNextObligation names the open obligation due soonest, for -o wide;
// one without a fixed deadline comes after every one with.
func setNextObligation(status *securityv1alpha1.IncidentStatus, now time.Time) {
	status.NextObligation, status.NextObligationDeadline = "", nil
	open := slices.DeleteFunc(slices.Clone(status.Obligations), func(o securityv1alpha1.ObligationStatus) bool { return !o.State.Open() })
	if len(open) == 0 {
		return
	}
	slices.SortStableFunc(open, func(a, b securityv1alpha1.ObligationStatus) int {
		switch {
		case a.Deadline == nil && b.Deadline == nil:
			return 0
		case a.Deadline == nil:
			return 1
		case b.Deadline == nil:
			return -1
		}
		return a.Deadline.Compare(b.Deadline.Time)
	})
	status.NextObligation = open[0].Regime + "/" + open[0].Stage
	status.NextObligationDeadline = open[0].Deadline
}

// markObligations sets the RegulatoryObligations condition: True while
// something is owed, with what is due first; ObligationMissed is True once
// any stage missed its deadline, and stays so.
func markObligations(incident *securityv1alpha1.Incident, now time.Time) {
	st := &incident.Status
	set := func(t string, s metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: truncate(message, 32768),
			ObservedGeneration: incident.Generation, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))})
	}
	if len(st.Obligations) == 0 {
		meta.RemoveStatusCondition(&st.Conditions, securityv1alpha1.ConditionRegulatoryObligations)
		return
	}
	var missed []string
	for _, o := range st.Obligations {
		if o.Missed {
			missed = append(missed, o.Regime+"/"+o.Stage)
		}
	}
	if len(missed) > 0 {
		set(securityv1alpha1.ConditionObligationMissed, metav1.ConditionTrue, securityv1alpha1.ReasonDeadlineMissed, "missed: "+strings.Join(missed, ", "))
	} else if c := meta.FindStatusCondition(st.Conditions, securityv1alpha1.ConditionObligationMissed); c == nil || c.Status != metav1.ConditionTrue {
		set(securityv1alpha1.ConditionObligationMissed, metav1.ConditionFalse, securityv1alpha1.ReasonInTime, "no obligation has missed its deadline")
	}
	if st.NextObligation == "" {
		set(securityv1alpha1.ConditionRegulatoryObligations, metav1.ConditionFalse, securityv1alpha1.ReasonAllMet, "every obligation is filed, not required or not applicable")
		return
	}
	next := st.Obligations[slices.IndexFunc(st.Obligations, func(o securityv1alpha1.ObligationStatus) bool {
		return o.Regime+"/"+o.Stage == st.NextObligation
	})]
	reason := securityv1alpha1.ReasonDue
	if next.State == securityv1alpha1.ObligationToDecide {
		reason = securityv1alpha1.ReasonUndecided
	}
	set(securityv1alpha1.ConditionRegulatoryObligations, metav1.ConditionTrue, reason, next.Regime+"/"+next.Stage+": "+next.Missing)
}

// nextDeadline is the earliest open deadline still ahead, so that the
// incident is reconciled when it passes; zero when there is none.
func nextDeadline(obligations []securityv1alpha1.ObligationStatus, now time.Time) time.Time {
	var wake time.Time
	for _, o := range obligations {
		if o.State.Open() && o.Deadline != nil && o.Deadline.After(now) && (wake.IsZero() || o.Deadline.Time.Before(wake)) {
			wake = o.Deadline.Time
		}
	}
	return wake
}

// filingIncident maps a Filing to its incident, whose status and trail
// record its steps.
func filingIncident(_ context.Context, o client.Object) []reconcile.Request {
	f := o.(*securityv1alpha1.Filing)
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: f.Namespace, Name: f.Spec.Incident}}}
}

// incidentsForRegime maps a regime that was created or changed to every
// incident still open, and every incident with obligations under it: the
// regime may now apply to them, or ask something else of them.
func (r *IncidentReconciler) incidentsForRegime(ctx context.Context, regime client.Object) []reconcile.Request {
	var incidents securityv1alpha1.IncidentList
	if err := r.List(ctx, &incidents); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing incidents for a regulatory regime", "regime", regime.GetName())
		return nil
	}
	var requests []reconcile.Request
	for i := range incidents.Items {
		inc := &incidents.Items[i]
		under := slices.ContainsFunc(inc.Status.Obligations, func(o securityv1alpha1.ObligationStatus) bool { return o.Regime == regime.GetName() })
		if inc.Status.ResolvedAt == nil || under {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inc)})
		}
	}
	return requests
}
