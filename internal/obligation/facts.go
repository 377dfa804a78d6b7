package obligation

import (
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// FactsOf gathers what an incident and the Filings of one regime record,
// by stage name, for Evaluate. awareAt is when the regime's clock of
// awareness started, frozen the deadlines recorded when each stage was
// first filed, and decidedAt when each stage was decided or drafted.
//
// The incident is classified (significant, major) when the first stage
// opened by such a decision is decided required or drafted: the clocks
// that run from classification start then.
//
// A decision that a stage is not required stands once as many people as
// the stage asks, the decider not among them, have agreed to it; until
// then the stage is still to decide. A draft stands for a decision that
// the stage is required. An authority report recorded on the incident by
// an earlier version (spec.authorityNotification) is the filing of the
// regime's first stage sent to the supervisory authority, so that an
// incident stored before Filings existed keeps its meaning.
func FactsOf(regime *securityv1alpha1.RegulatoryRegimeSpec, incident *securityv1alpha1.Incident, awareAt time.Time,
	filings map[string]*securityv1alpha1.Filing, frozen, decidedAt map[string]time.Time) Facts {
	facts := Facts{AwareAt: awareAt, Stages: make(map[string]StageFacts, len(regime.Stages))}
	legacy := incident.Spec.AuthorityNotification
	for i := range regime.Stages {
		stage := &regime.Stages[i]
		f := stageFacts(stage, filings[stage.Name])
		if d, ok := frozen[stage.Name]; ok {
			f.Deadline = &d
		}
		if legacy != nil && stage.Recipient == securityv1alpha1.RecipientSupervisoryAuthority && f.FiledAt == nil {
			at := legacy.NotifiedAt.Time
			f.FiledAt = &at
			f.Decision = DecisionRequired
			legacy = nil
		}
		facts.Stages[stage.Name] = f
		classifies := stage.OpenedBy == securityv1alpha1.OpenedByMajor || stage.OpenedBy == securityv1alpha1.OpenedBySignificant
		if at, ok := decidedAt[stage.Name]; ok && classifies && f.Decision == DecisionRequired &&
			(facts.ClassifiedAt == nil || at.Before(*facts.ClassifiedAt)) {
			facts.ClassifiedAt = &at
		}
	}
	return facts
}

func stageFacts(stage *securityv1alpha1.RegimeStage, filing *securityv1alpha1.Filing) StageFacts {
	var f StageFacts
	if filing == nil {
		return f
	}
	spec := &filing.Spec
	agreements := len(spec.Agreements)
	if d := spec.Decision; d != nil {
		switch {
		case d.Outcome == securityv1alpha1.FilingRequired:
			f.Decision = DecisionRequired
		case agreements >= stage.AgreementsOrDefault():
			f.Decision = DecisionNotRequired
		default:
			f.AwaitingAgreements = stage.AgreementsOrDefault() - agreements
		}
	}
	if d := spec.Draft; d != nil {
		f.Decision = DecisionRequired
		f.DraftedAt = new(filing.CreationTimestamp.Time)
		for field := range d.Content {
			f.Content = append(f.Content, field)
		}
		f.Agreements = agreements
	}
	if spec.Filed != nil {
		f.FiledAt = new(spec.Filed.At.Time)
	}
	if spec.Acknowledgement != nil {
		f.AcknowledgedAt = new(spec.Acknowledgement.At.Time)
	}
	return f
}
