// Package filing finds, for kubectl incident, the Filing a person records
// a step on: the obligation of an incident that --regime and --stage name
// (or leave to the only one there is), and the Filing the operator opened
// for it. It reads the obligations the operator wrote in the incident's
// status and never works them out itself. It is pure: the incident and its
// Filings as stored go in.
package filing

import (
	"fmt"
	"slices"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Select is the obligation of inc that regime and stage name. An empty
// regime is the incident's only regime; an empty stage is the regime's
// only open obligation. The error says what to give instead.
func Select(inc *securityv1alpha1.Incident, regime, stage string) (securityv1alpha1.ObligationStatus, error) {
	obligations := inc.Status.Obligations
	regimes := Regimes(inc)
	if len(regimes) == 0 {
		return securityv1alpha1.ObligationStatus{}, fmt.Errorf("no regulatory regime applies to incident %s: the operator lists what a regime asks in the incident's status.obligations once a policy names one for it", inc.Name)
	}
	switch {
	case regime == "" && len(regimes) > 1:
		return securityv1alpha1.ObligationStatus{}, fmt.Errorf("incident %s has obligations under %d regimes: give --regime, one of %s", inc.Name, len(regimes), strings.Join(regimes, ", "))
	case regime == "":
		regime = regimes[0]
	case !slices.Contains(regimes, regime):
		return securityv1alpha1.ObligationStatus{}, fmt.Errorf("--regime %q is not a regime of incident %s: its regimes are %s", regime, inc.Name, strings.Join(regimes, ", "))
	}
	var inRegime, open []securityv1alpha1.ObligationStatus
	for _, ob := range obligations {
		if ob.Regime != regime {
			continue
		}
		inRegime = append(inRegime, ob)
		if ob.State.Open() {
			open = append(open, ob)
		}
	}
	if stage == "" {
		if len(open) == 1 {
			return open[0], nil
		}
		if len(open) == 0 {
			return securityv1alpha1.ObligationStatus{}, fmt.Errorf("incident %s has no open obligation under %s: give --stage, one of %s", inc.Name, regime, stageList(inRegime))
		}
		return securityv1alpha1.ObligationStatus{}, fmt.Errorf("incident %s has %d open obligations under %s: give --stage, one of %s", inc.Name, len(open), regime, stageList(open))
	}
	for _, ob := range inRegime {
		if ob.Stage == stage {
			return ob, nil
		}
	}
	return securityv1alpha1.ObligationStatus{}, fmt.Errorf("--stage %q is not a stage of %s for incident %s: its stages are %s", stage, regime, inc.Name, stageList(inRegime))
}

// Regimes are the regimes of the incident's obligations, in their order.
func Regimes(inc *securityv1alpha1.Incident) []string {
	var regimes []string
	for _, ob := range inc.Status.Obligations {
		if !slices.Contains(regimes, ob.Regime) {
			regimes = append(regimes, ob.Regime)
		}
	}
	return regimes
}

// Stages are the obligations of the incident under regime, or under every
// regime when regime is empty.
func Stages(inc *securityv1alpha1.Incident, regime string) []securityv1alpha1.ObligationStatus {
	var stages []securityv1alpha1.ObligationStatus
	for _, ob := range inc.Status.Obligations {
		if regime == "" || ob.Regime == regime {
			stages = append(stages, ob)
		}
	}
	return stages
}

// Name is the name of the Filing that records ob's steps: the one the
// operator wrote beside it, else the name it gives every Filing.
func Name(incident string, ob securityv1alpha1.ObligationStatus) string {
	if ob.Filing != "" {
		return ob.Filing
	}
	return securityv1alpha1.FilingName(incident, ob.Regime, ob.Stage)
}

// Entry is one obligation of an incident with the Filing that records its
// steps, nil while the operator has not opened it.
type Entry struct {
	Obligation securityv1alpha1.ObligationStatus `json:"obligation"`
	Filing     *securityv1alpha1.Filing          `json:"filing,omitempty"`
}

// Entries pairs each obligation of inc with its Filing among filings, in
// the order of the obligations; a Filing of another incident is none. The
// Filings are copied without their managed fields, which say nothing of
// the steps.
func Entries(inc *securityv1alpha1.Incident, filings []securityv1alpha1.Filing) []Entry {
	entries := make([]Entry, 0, len(inc.Status.Obligations))
	for _, ob := range inc.Status.Obligations {
		e := Entry{Obligation: ob}
		name := Name(inc.Name, ob)
		if i := slices.IndexFunc(filings, func(f securityv1alpha1.Filing) bool { return f.Name == name && f.Of(inc) }); i >= 0 {
			e.Filing = filings[i].DeepCopy()
			e.Filing.ManagedFields = nil
		}
		entries = append(entries, e)
	}
	return entries
}

// MissingContent is the fields the stage asks for that content lacks, in
// the stage's order.
func MissingContent(required []string, content map[string]securityv1alpha1.ContentValue) []string {
	var missing []string
	for _, field := range required {
		if _, ok := content[field]; !ok {
			missing = append(missing, field)
		}
	}
	return missing
}

func stageList(obligations []securityv1alpha1.ObligationStatus) string {
	names := make([]string, len(obligations))
	for i, ob := range obligations {
		names[i] = fmt.Sprintf("%s (%s)", ob.Stage, ob.State)
	}
	return strings.Join(names, ", ")
}
