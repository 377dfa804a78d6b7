// Package obligation works out what a regulatory regime asks of one
// incident: for each of the regime's stages, its state, its deadline, whether
// the deadline is missed and what is still missing, in words that name the
// stage. It is pure: it reads a regime and the incident's facts, imports no
// client, and takes the time to judge by as an argument.
package obligation

import (
	"fmt"
	"slices"
	"strings"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// State is how far an obligation has come: ToDecide, then Required or
// NotRequired; a required one is Drafted, Agreed, Filed and Acknowledged.
type State string

const (
	// StateToDecide is a stage nobody has decided yet: its clock may be
	// running all the same.
	StateToDecide State = "ToDecide"
	// StateRequired is a stage decided required, with no draft yet.
	StateRequired State = "Required"
	// StateNotRequired is a stage decided not required: it has no deadline
	// and cannot be missed.
	StateNotRequired State = "NotRequired"
	// StateDrafted is a stage with a draft that lacks agreements.
	StateDrafted State = "Drafted"
	// StateAgreed is a draft agreed by as many people as the stage asks.
	StateAgreed State = "Agreed"
	// StateFiled is a stage filed with its recipient.
	StateFiled State = "Filed"
	// StateAcknowledged is a filing the recipient has acknowledged.
	StateAcknowledged State = "Acknowledged"
	// StateWaiting is an undecided stage whose clock runs from the filing
	// of an earlier stage not filed yet: there is nothing to decide until
	// then (UK GDPR Art. 33(4) follows a notification).
	StateWaiting State = "Waiting"
)

// Decision is what was decided about one stage.
type Decision string

const (
	// DecisionRequired is a stage that must be filed.
	DecisionRequired Decision = "Required"
	// DecisionNotRequired is a stage that need not be filed, such as a
	// breach unlikely to result in a risk (UK GDPR Art. 33(1)).
	DecisionNotRequired Decision = "NotRequired"
)

// Facts is what an incident has recorded that a regime's clocks read.
type Facts struct {
	// AwareAt is when the organisation became aware of the incident.
	AwareAt time.Time
	// ClassifiedAt is when the incident was classified as significant or
	// major, or nil while it is not.
	ClassifiedAt *time.Time
	// Stages holds what was recorded for each stage, by stage name.
	Stages map[string]StageFacts
}

// StageFacts is what was recorded for one stage of a regime.
type StageFacts struct {
	// Decision is what was decided about the stage; empty while undecided.
	Decision Decision
	// DraftedAt is when the current draft was made, or nil.
	DraftedAt *time.Time
	// Content names the fields the draft carries.
	Content []string
	// Agreements is how many distinct people, the drafter not among them,
	// agreed to the current draft.
	Agreements int
	// FiledAt is when the stage was first filed, or nil.
	FiledAt *time.Time
	// AcknowledgedAt is when the recipient acknowledged the filing, or nil.
	AcknowledgedAt *time.Time
	// Deadline is the deadline as it was frozen when the stage was first
	// filed (Obligation.Frozen), or nil before that.
	Deadline *time.Time
	// AwaitingAgreements is how many more agreements a decision that the
	// stage is not required needs before it stands; while it does, the
	// stage is still to decide and its clock runs.
	AwaitingAgreements int
}

// Obligation is one stage of one regime, as it stands for an incident.
type Obligation struct {
	// Stage is the stage's name in its regime.
	Stage string
	// Citation is the provision the stage comes from.
	Citation string
	// Recipient is who the filing goes to.
	Recipient securityv1alpha1.Recipient
	// State is how far the obligation has come.
	State State
	// Deadline is when the stage is due, or nil: for a stage the rules give
	// no fixed time ("without undue delay"), for a stage decided not
	// required, and while the event its clock runs from has not happened.
	Deadline *time.Time
	// WithoutUndueDelay is true when the rules set no fixed time.
	WithoutUndueDelay bool
	// Frozen is true when the stage is filed and its deadline is fixed: the
	// caller records Deadline and passes it back in StageFacts.Deadline, so
	// that correcting awareness afterwards cannot move it.
	Frozen bool
	// Breached is true when the stage was filed after its deadline, or is
	// not filed and its deadline has passed.
	Breached bool
	// Missing says what is still to be done, naming the stage; empty when
	// nothing is.
	Missing string
	// AgreementsNeeded is how many more agreements the draft, or a decision
	// that the stage is not required, needs before it stands.
	AgreementsNeeded int
}

// Evaluate works out each stage of the regime for an incident with these
// facts, judged at now, in the order the regime lists its stages.
func Evaluate(regime *securityv1alpha1.RegulatoryRegimeSpec, facts Facts, now time.Time) []Obligation {
	obligations := make([]Obligation, 0, len(regime.Stages))
	for i := range regime.Stages {
		o := evaluate(&regime.Stages[i], decided(regime.Stages[:i+1], facts), facts, now)
		if anchor := regime.Stages[i].AnchorStage(); anchor != "" && o.State == StateToDecide && facts.Stages[anchor].FiledAt == nil {
			// A stage that follows a filing waits for it, and falls with
			// it when the earlier stage is not required.
			o.State, o.Deadline, o.Breached = StateWaiting, nil, false
			o.Missing = fmt.Sprintf("%q (%s) follows the filing of %q: nothing to decide until it is filed", o.Stage, o.Citation, anchor)
			if j := slices.IndexFunc(obligations, func(e Obligation) bool { return e.Stage == anchor }); j >= 0 && obligations[j].State == StateNotRequired {
				o.State, o.Missing = StateNotRequired, ""
			}
		}
		obligations = append(obligations, o)
	}
	return obligations
}

func evaluate(stage *securityv1alpha1.RegimeStage, decision Decision, facts Facts, now time.Time) Obligation {
	f := facts.Stages[stage.Name]
	o := Obligation{
		Stage:             stage.Name,
		Citation:          stage.Citation,
		Recipient:         stage.Recipient,
		WithoutUndueDelay: stage.WithoutUndueDelay && stage.Deadline == nil && stage.DeadlineMonths == 0,
	}
	o.State = state(stage, f, decision)
	if o.State == StateNotRequired {
		return o
	}
	o.Deadline = deadline(stage, facts)
	if f.FiledAt != nil {
		// The first filing fixes the deadline: a later correction of
		// awareness or classification must not un-breach it.
		if f.Deadline != nil {
			o.Deadline = new(*f.Deadline)
		}
		o.Frozen = o.Deadline != nil
		o.Breached = o.Deadline != nil && f.FiledAt.After(*o.Deadline)
	} else {
		o.Breached = o.Deadline != nil && !now.Before(*o.Deadline)
	}
	o.Missing = missing(stage, f, o)
	switch o.State {
	case StateDrafted:
		o.AgreementsNeeded = max(stage.AgreementsOrDefault()-f.Agreements, 0)
	case StateToDecide:
		o.AgreementsNeeded = f.AwaitingAgreements
	}
	return o
}

// decided is what was decided about the last of stages: its own decision;
// else required for a stage that needs none; else the decision recorded for
// the nearest earlier stage opened by the same decision.
func decided(stages []securityv1alpha1.RegimeStage, facts Facts) Decision {
	stage := stages[len(stages)-1]
	if stage.OpenedBy == securityv1alpha1.OpenedAlways {
		if d := facts.Stages[stage.Name].Decision; d != "" {
			return d
		}
		return DecisionRequired
	}
	for i := len(stages) - 1; i >= 0; i-- {
		if stages[i].OpenedBy != stage.OpenedBy {
			continue
		}
		if d := facts.Stages[stages[i].Name].Decision; d != "" {
			return d
		}
	}
	return ""
}

// state is how far the stage has come. A stage decided not required stays
// so whatever else was recorded: the admission rules refuse drafting or
// filing it.
func state(stage *securityv1alpha1.RegimeStage, f StageFacts, decision Decision) State {
	switch {
	case decision == DecisionNotRequired:
		return StateNotRequired
	case f.AcknowledgedAt != nil:
		return StateAcknowledged
	case f.FiledAt != nil:
		return StateFiled
	case f.DraftedAt != nil && f.Agreements >= stage.AgreementsOrDefault():
		return StateAgreed
	case f.DraftedAt != nil:
		return StateDrafted
	case decision == DecisionRequired:
		return StateRequired
	}
	return StateToDecide
}

// deadline is when the stage is due as the facts stand, or nil when the
// rules give no fixed time or the event the clock runs from has not
// happened. A stage with both a deadline and "without undue delay" (which
// the API refuses) is given the fixed deadline, the stricter reading.
func deadline(stage *securityv1alpha1.RegimeStage, facts Facts) *time.Time {
	start := clockStart(stage, facts)
	if start == nil {
		return nil
	}
	switch {
	case stage.Deadline != nil && stage.Deadline.Err() == nil:
		due := start.Add(stage.Deadline.Duration)
		if m := stage.MaxFromAwareness; m != nil && m.Err() == nil && stage.ClockStart() == securityv1alpha1.ClockFromClassification {
			due = minTime(due, facts.AwareAt.Add(m.Duration))
		}
		return &due
	case stage.DeadlineMonths > 0:
		due := addMonths(*start, int(stage.DeadlineMonths))
		return &due
	}
	return nil
}

// clockStart is when the stage's clock started, or nil while it has not.
func clockStart(stage *securityv1alpha1.RegimeStage, facts Facts) *time.Time {
	switch stage.ClockStart() {
	case securityv1alpha1.ClockFromClassification:
		return facts.ClassifiedAt
	case securityv1alpha1.ClockFromFiling:
		return facts.Stages[stage.AnchorStage()].FiledAt
	}
	return &facts.AwareAt
}

// addMonths is t plus n calendar months; a day the month lacks becomes its
// last day, so one month after 31 January is the end of February, never
// early March.
func addMonths(t time.Time, n int) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// missing says what is still to be done for the stage, naming it.
func missing(stage *securityv1alpha1.RegimeStage, f StageFacts, o Obligation) string {
	name := fmt.Sprintf("%q (%s)", stage.Name, stage.Citation)
	to := recipientWords(stage.Recipient)
	var todo string
	switch o.State {
	case StateToDecide:
		todo = fmt.Sprintf("decide whether %s to %s is required", name, to)
		if n := f.AwaitingAgreements; n > 0 {
			todo = fmt.Sprintf("the decision that %s to %s is not required needs %d more %s", name, to, n, plural(n, "agreement", "agreements"))
		}
	case StateRequired:
		todo = fmt.Sprintf("draft %s to %s", name, to)
		if len(stage.RequiredContent) > 0 {
			todo += ", with " + strings.Join(stage.RequiredContent, ", ")
		}
	case StateDrafted, StateAgreed:
		var parts []string
		if lacks := lacking(stage.RequiredContent, f.Content); len(lacks) > 0 {
			parts = append(parts, strings.Join(lacks, ", ")+" in its draft")
		}
		if more := stage.AgreementsOrDefault() - f.Agreements; more > 0 {
			parts = append(parts, fmt.Sprintf("%d more %s", more, plural(more, "agreement", "agreements")))
		}
		filing := "filing with " + to
		if len(parts) > 0 {
			filing = "then " + filing
		}
		todo = fmt.Sprintf("%s needs %s", name, strings.Join(append(parts, filing), ", "))
	case StateFiled:
		return fmt.Sprintf("%s awaits acknowledgement by %s", name, to)
	default:
		return ""
	}
	return todo + ", " + when(stage, o)
}

// when says by when the stage is due, or why it has no deadline yet.
func when(stage *securityv1alpha1.RegimeStage, o Obligation) string {
	switch {
	case o.Deadline != nil && o.Breached:
		return "was due by " + o.Deadline.UTC().Format(time.RFC3339)
	case o.Deadline != nil:
		return "by " + o.Deadline.UTC().Format(time.RFC3339)
	case o.WithoutUndueDelay:
		return "without undue delay (no fixed deadline)"
	case stage.ClockStart() == securityv1alpha1.ClockFromClassification:
		return "its clock starts when the incident is classified"
	case stage.ClockStart() == securityv1alpha1.ClockFromFiling:
		return fmt.Sprintf("its clock starts when %q is filed", stage.AnchorStage())
	}
	return "with no deadline the regime can give"
}

// lacking is the required fields the content does not carry, in the
// regime's order.
func lacking(required, content []string) []string {
	var lacks []string
	for _, field := range required {
		if !slices.Contains(content, field) {
			lacks = append(lacks, field)
		}
	}
	return lacks
}

func recipientWords(r securityv1alpha1.Recipient) string {
	switch r {
	case securityv1alpha1.RecipientSupervisoryAuthority:
		return "the supervisory authority"
	case securityv1alpha1.RecipientCompetentAuthority:
		return "the competent authority"
	case securityv1alpha1.RecipientCSIRT:
		return "the CSIRT"
	case securityv1alpha1.RecipientDataSubjects:
		return "the data subjects"
	case securityv1alpha1.RecipientController:
		return "the controller"
	}
	return string(r)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
