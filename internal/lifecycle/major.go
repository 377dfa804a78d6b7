package lifecycle

// Major: what makes an incident major, and who is told then.

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// major sets the Major condition from the first policy that defines what
// major means (by default: Critical or service-affecting), and tells each
// policy's major receivers once.
func (a *advancer) major() {
	var routed []*securityv1alpha1.EscalationPolicy
	for _, ref := range a.inc.Status.Policies {
		routed = append(routed, a.Policies[ref.Name])
	}
	why := MajorBecause(&a.inc.Spec, routed)
	if why == "" {
		// An incident that never was major carries no Major condition: a
		// condition that says nothing costs every status write its bytes.
		// One that was major says it no longer is.
		if meta.FindStatusCondition(a.inc.Status.Conditions, securityv1alpha1.ConditionMajor) != nil {
			a.condition(securityv1alpha1.ConditionMajor, metav1.ConditionFalse, securityv1alpha1.ReasonNotMajor, "not a major incident")
		}
		return
	}
	if a.condition(securityv1alpha1.ConditionMajor, metav1.ConditionTrue, securityv1alpha1.ReasonMajorIncident, "major incident: "+why) {
		a.event(true, "MajorIncident", "Major incident: %s", why)
	}
	if a.importedResolved() {
		return
	}
	for _, ref := range a.inc.Status.Policies {
		p := a.Policies[ref.Name]
		if p == nil || p.Spec.Major == nil {
			continue
		}
		for _, target := range p.Spec.Major.Notify {
			a.owe(p, 0, 0, target, NoticeMajor, "")
		}
	}
}

// MajorBecause says why an incident is major, by the first of the policies
// that route it (in routing order) that defines what major means, by
// default Critical or service-affecting; "" when it is not major. A nil
// policy, one that is gone, is passed over.
func MajorBecause(spec *securityv1alpha1.IncidentSpec, policies []*securityv1alpha1.EscalationPolicy) string {
	var def *securityv1alpha1.Major
	for _, p := range policies {
		if p != nil && p.Spec.Major != nil {
			def = p.Spec.Major
			break
		}
	}
	severities := []securityv1alpha1.Severity{securityv1alpha1.SeverityCritical}
	serviceAffecting := true
	if def != nil {
		if len(def.Severities) > 0 {
			severities = def.Severities
		}
		if def.ServiceAffecting != nil {
			serviceAffecting = *def.ServiceAffecting
		}
	}
	switch {
	case slices.Contains(severities, spec.Severity):
		return "severity " + string(spec.Severity)
	case serviceAffecting && spec.Impact.ServiceAffecting:
		return "service affecting"
	}
	return ""
}
