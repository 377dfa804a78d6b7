package lifecycle

// Authority: the clock for telling the supervisory authority of a
// personal data breach.

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// AuthorityFiling is what the Filing of a regime's first stage for the
// supervisory authority records, for the authority clock.
type AuthorityFiling struct {
	// Obligation names it as regime/stage.
	Obligation string
	// NotRequired is true once a decision that it is not required stands,
	// agreed as its stage asks.
	NotRequired bool
	// Rationale is that decision's reasons.
	Rationale string
	// FiledAt, Reference and DelayReason record the filing, once made.
	FiledAt     *time.Time
	Reference   string
	DelayReason string
}

// authority keeps the clock for reporting a personal data breach to the
// supervisory authority. Resolving the incident does not stop it unless the
// incident turned out a false positive or a duplicate: a breach that has
// been dealt with must still be reported.
func (a *advancer) authority() {
	spec, st := a.inc.Spec, &a.inc.Status
	if !spec.Impact.PersonalData {
		return
	}
	if st.AuthorityNotificationDeadline == nil {
		within := securityv1alpha1.AuthorityNotificationWithin
		for _, ref := range st.Policies {
			if p := a.Policies[ref.Name]; p != nil && p.Spec.Regulatory != nil && p.Spec.Regulatory.AuthorityNotificationWithin != nil {
				within = min(within, p.Spec.Regulatory.AuthorityNotificationWithin.Duration)
			}
		}
		deadline := metav1.NewTime(st.AwareAt.Add(within).UTC())
		st.AuthorityNotificationDeadline = &deadline
	}
	deadline := st.AuthorityNotificationDeadline.Time
	by := deadline.UTC().Format(time.RFC3339)
	if r := spec.Resolution; r != nil && spec.AuthorityNotification == nil && r.State != securityv1alpha1.ResolutionResolved {
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionFalse, securityv1alpha1.ReasonNotRequired,
			fmt.Sprintf("resolved as %s: no breach to report", r.State))
		meta.RemoveStatusCondition(&st.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed)
		return
	}
	if f := a.Authority; f != nil && f.NotRequired && spec.AuthorityNotification == nil {
		// A deadline missed before the decision stays on the record.
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionFalse, securityv1alpha1.ReasonNotRequired,
			fmt.Sprintf("decided not required (%s): %s", f.Obligation, f.Rationale))
		if !isTrue(st.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed) {
			a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionFalse, securityv1alpha1.ReasonNotRequired, "decided not required")
		}
		a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotRequired, "decided not required")
		return
	}
	n := spec.AuthorityNotification
	if f := a.Authority; n == nil && f != nil && f.FiledAt != nil {
		n = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(*f.FiledAt), Reference: f.Reference, DelayReason: f.DelayReason}
	}
	if n != nil {
		at := n.NotifiedAt.UTC().Format(time.RFC3339)
		reference := ""
		if n.Reference != "" {
			reference = ", reference " + n.Reference
		}
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionFalse, securityv1alpha1.ReasonReported, "reported at "+at)
		if n.NotifiedAt.After(deadline) {
			message := fmt.Sprintf("reported at %s%s, after the deadline %s: %s", at, reference, by, n.DelayReason)
			a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReportedLate, message)
			if a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionTrue, securityv1alpha1.ReasonReportedLate, message) {
				a.event(true, "AuthorityDeadlineMissed", "The supervisory authority was told after the deadline %s", by)
			}
			return
		}
		a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReported,
			fmt.Sprintf("reported at %s%s, before the deadline %s", at, reference, by))
		a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionFalse, securityv1alpha1.ReasonReported, "reported in time")
		return
	}
	a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotReported, "not reported yet")
	// A deadline once missed stays missed: a clock set back must not undo it.
	missed := meta.FindStatusCondition(st.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed)
	if !a.Now.Before(deadline) || (missed != nil && missed.Status == metav1.ConditionTrue && missed.Reason == securityv1alpha1.ReasonNotReported) {
		record := "record spec.authorityNotification with delayReason"
		if a.Authority != nil {
			record = "file " + a.Authority.Obligation + " with a delay reason, or record the decision that it is not required"
		}
		message := fmt.Sprintf("personal data breach not reported to the supervisory authority by the deadline %s; %s", by, record)
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionTrue, securityv1alpha1.ReasonNotReported, message)
		if a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionTrue, securityv1alpha1.ReasonNotReported, message) {
			a.event(true, "AuthorityDeadlineMissed", "%s", message)
		}
		return
	}
	a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionTrue, securityv1alpha1.ReasonPersonalData,
		"personal data is involved: report the breach to the supervisory authority by "+by)
	a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionFalse, securityv1alpha1.ReasonPersonalData, "the deadline is "+by)
	a.wake(deadline)
}
