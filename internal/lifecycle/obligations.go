package lifecycle

// Obligations: the notices a policy's regulatory.notify owes about the
// incident's regulatory obligations, which the operator works out before
// Advance (status.obligations).

import (
	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// obligationNotices owes, to each policy's regulatory.notify, a notice
// when a draft or a decision not to file awaits agreement, and one when a
// stage whose filing is not agreed is due within the policy's warnBefore.
// Each is owed once for each obligation and recipient, as its key says;
// the wake brings the incident back when a warning falls due.
func (a *advancer) obligationNotices() {
	st := &a.inc.Status
	for _, ref := range st.Policies {
		policy := a.Policies[ref.Name]
		if policy == nil || policy.Spec.Regulatory == nil || len(policy.Spec.Regulatory.Notify) == 0 {
			continue
		}
		warn := policy.Spec.Regulatory.WarnBeforeOrDefault()
		for _, o := range st.Obligations {
			if !o.State.Open() || o.State == securityv1alpha1.ObligationWaiting {
				continue
			}
			about := o.Regime + "/" + o.Stage
			var notices []string
			if o.AgreementsNeeded > 0 {
				notices = append(notices, NoticeAwaitingAgreement)
			}
			if o.Deadline != nil && o.State != securityv1alpha1.ObligationAgreed {
				if warnAt := o.Deadline.Add(-warn); a.Now.Before(warnAt) {
					a.wake(warnAt)
				} else {
					notices = append(notices, NoticeObligationDue)
				}
			}
			for _, notice := range notices {
				for _, target := range policy.Spec.Regulatory.Notify {
					a.owe(policy, 0, 0, target, notice, about)
				}
			}
		}
	}
}
