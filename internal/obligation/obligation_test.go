package obligation

import (
	"slices"
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// aware is when the organisation became aware in every case below.
var aware = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { return new(aware.Add(d)) }

func hours(h int) *securityv1alpha1.Duration {
	return securityv1alpha1.NewDuration(time.Duration(h) * time.Hour)
}

func afterFiling(stage string) *securityv1alpha1.StageAnchor {
	return &securityv1alpha1.StageAnchor{From: securityv1alpha1.ClockFromFiling, Stage: stage}
}

var classification = &securityv1alpha1.StageAnchor{From: securityv1alpha1.ClockFromClassification}

var ukGDPR = &securityv1alpha1.RegulatoryRegimeSpec{
	Description: "UK GDPR: personal data breaches",
	Citation:    "UK GDPR Art. 33 and 34",
	Stages: []securityv1alpha1.RegimeStage{{
		Name: "notification", Citation: "UK GDPR Art. 33(1)",
		Recipient: securityv1alpha1.RecipientSupervisoryAuthority,
		Deadline:  hours(72), OpenedBy: securityv1alpha1.OpenedByRisk,
		RequiredContent: []string{"nature", "contact", "consequences", "measures"},
		Agreements:      1,
	}, {
		Name: "data-subjects", Citation: "UK GDPR Art. 34(1)",
		Recipient:         securityv1alpha1.RecipientDataSubjects,
		WithoutUndueDelay: true, OpenedBy: securityv1alpha1.OpenedByHighRisk,
	}},
}

var pecr = &securityv1alpha1.RegulatoryRegimeSpec{
	Description: "PECR: personal data breaches by service providers",
	Citation:    "PECR reg. 5A",
	Stages: []securityv1alpha1.RegimeStage{{
		Name: "notification", Citation: "PECR reg. 5A(2)",
		Recipient: securityv1alpha1.RecipientSupervisoryAuthority,
		Deadline:  hours(24), OpenedBy: securityv1alpha1.OpenedAlways,
	}},
}

var nis2 = &securityv1alpha1.RegulatoryRegimeSpec{
	Description: "NIS2: significant incidents",
	Citation:    "Directive (EU) 2022/2555 Art. 23",
	Stages: []securityv1alpha1.RegimeStage{{
		Name: "early-warning", Citation: "NIS2 Art. 23(4)(a)",
		Recipient: securityv1alpha1.RecipientCSIRT,
		Deadline:  hours(24), OpenedBy: securityv1alpha1.OpenedBySignificant,
	}, {
		Name: "notification", Citation: "NIS2 Art. 23(4)(b)",
		Recipient: securityv1alpha1.RecipientCSIRT,
		Deadline:  hours(72), OpenedBy: securityv1alpha1.OpenedBySignificant,
	}, {
		Name: "final-report", Citation: "NIS2 Art. 23(4)(d)",
		Recipient:      securityv1alpha1.RecipientCSIRT,
		DeadlineMonths: 1, Anchor: afterFiling("notification"),
		OpenedBy: securityv1alpha1.OpenedBySignificant,
	}},
}

var dora = &securityv1alpha1.RegulatoryRegimeSpec{
	Description: "DORA: major ICT-related incidents",
	Citation:    "Regulation (EU) 2022/2554 Art. 19",
	Stages: []securityv1alpha1.RegimeStage{{
		Name: "initial-notification", Citation: "DORA Art. 19(4)(a)",
		Recipient: securityv1alpha1.RecipientCompetentAuthority,
		Deadline:  hours(4), Anchor: classification, MaxFromAwareness: hours(24),
		OpenedBy: securityv1alpha1.OpenedByMajor,
	}},
}

// want is what a case checks of one stage's obligation.
type want struct {
	state    State
	deadline *time.Time
	breached bool
	frozen   bool
	// missing holds phrases Missing must contain; none means it is empty.
	missing []string
}

func TestEvaluate(t *testing.T) {
	required := StageFacts{Decision: DecisionRequired}
	cases := map[string]struct {
		regime *securityv1alpha1.RegulatoryRegimeSpec
		facts  Facts
		now    time.Duration // after awareness
		want   map[string]want
	}{
		"UK GDPR Art. 33: 72 hours from awareness, undecided and running": {
			regime: ukGDPR, facts: Facts{AwareAt: aware}, now: 10 * time.Hour,
			want: map[string]want{
				"notification": {state: StateToDecide, deadline: at(72 * time.Hour),
					missing: []string{`decide whether "notification" (UK GDPR Art. 33(1)) to the supervisory authority is required`, "by 2026-03-05T09:00:00Z"}},
				"data-subjects": {state: StateToDecide,
					missing: []string{`"data-subjects" (UK GDPR Art. 34(1))`, "without undue delay"}},
			},
		},
		"UK GDPR Art. 33: undecided after 72 hours is missed": {
			regime: ukGDPR, facts: Facts{AwareAt: aware}, now: 72 * time.Hour,
			want: map[string]want{
				"notification": {state: StateToDecide, deadline: at(72 * time.Hour), breached: true,
					missing: []string{"was due by 2026-03-05T09:00:00Z"}},
			},
		},
		"UK GDPR Art. 33: required, drafted without the content or the agreement": {
			regime: ukGDPR, now: 20 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": {
				Decision: DecisionRequired, DraftedAt: at(12 * time.Hour), Content: []string{"nature", "contact"},
			}}},
			want: map[string]want{
				"notification": {state: StateDrafted, deadline: at(72 * time.Hour),
					missing: []string{`"notification" (UK GDPR Art. 33(1)) needs consequences, measures in its draft, 1 more agreement, then filing with the supervisory authority, by 2026-03-05T09:00:00Z`}},
			},
		},
		"UK GDPR Art. 33: agreed, to be filed": {
			regime: ukGDPR, now: 20 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": {
				Decision: DecisionRequired, DraftedAt: at(12 * time.Hour), Agreements: 1,
				Content: []string{"nature", "contact", "consequences", "measures"},
			}}},
			want: map[string]want{
				"notification": {state: StateAgreed, deadline: at(72 * time.Hour),
					missing: []string{`"notification" (UK GDPR Art. 33(1)) needs filing with the supervisory authority, by 2026-03-05T09:00:00Z`}},
			},
		},
		"UK GDPR Art. 33: filed at 70 hours is in time and freezes the deadline": {
			regime: ukGDPR, now: 100 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": {
				Decision: DecisionRequired, DraftedAt: at(60 * time.Hour), Agreements: 1, FiledAt: at(70 * time.Hour),
			}}},
			want: map[string]want{
				"notification": {state: StateFiled, deadline: at(72 * time.Hour), frozen: true,
					missing: []string{"awaits acknowledgement by the supervisory authority"}},
			},
		},
		"UK GDPR Art. 33: filed at 80 hours stays missed": {
			regime: ukGDPR, now: 100 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": {
				Decision: DecisionRequired, FiledAt: at(80 * time.Hour),
			}}},
			want: map[string]want{
				"notification": {state: StateFiled, deadline: at(72 * time.Hour), frozen: true, breached: true,
					missing: []string{"awaits acknowledgement"}},
			},
		},
		"UK GDPR Art. 33: acknowledged leaves nothing to do": {
			regime: ukGDPR, now: 100 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": {
				Decision: DecisionRequired, FiledAt: at(70 * time.Hour), AcknowledgedAt: at(75 * time.Hour),
			}}},
			want: map[string]want{
				"notification": {state: StateAcknowledged, deadline: at(72 * time.Hour), frozen: true},
			},
		},
		"UK GDPR Art. 33 decided not required: no deadline, never missed": {
			regime: ukGDPR, now: 1000 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"notification":  {Decision: DecisionNotRequired},
				"data-subjects": {Decision: DecisionNotRequired},
			}},
			want: map[string]want{
				"notification":  {state: StateNotRequired},
				"data-subjects": {state: StateNotRequired},
			},
		},
		"UK GDPR: Art. 33 required leaves Art. 34 to decide": {
			regime: ukGDPR, now: 10 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": required}},
			want: map[string]want{
				"notification": {state: StateRequired, deadline: at(72 * time.Hour),
					missing: []string{`draft "notification" (UK GDPR Art. 33(1)) to the supervisory authority, with nature, contact, consequences, measures, by 2026-03-05T09:00:00Z`}},
				"data-subjects": {state: StateToDecide,
					missing: []string{`decide whether "data-subjects" (UK GDPR Art. 34(1)) to the data subjects is required, without undue delay (no fixed deadline)`}},
			},
		},
		"UK GDPR Art. 34: required without undue delay never gets invented hours": {
			regime: ukGDPR, now: 10000 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"data-subjects": required}},
			want: map[string]want{
				"data-subjects": {state: StateRequired,
					missing: []string{`draft "data-subjects" (UK GDPR Art. 34(1)) to the data subjects, without undue delay (no fixed deadline)`}},
			},
		},
		"UK GDPR Art. 34: filed late by any count is still not missed": {
			regime: ukGDPR, now: 10000 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"data-subjects": {
				Decision: DecisionRequired, FiledAt: at(9000 * time.Hour),
			}}},
			want: map[string]want{
				"data-subjects": {state: StateFiled, missing: []string{"awaits acknowledgement by the data subjects"}},
			},
		},
		"PECR reg. 5A: every breach is required, 24 hours, with no decision": {
			regime: pecr, facts: Facts{AwareAt: aware}, now: 25 * time.Hour,
			want: map[string]want{
				"notification": {state: StateRequired, deadline: at(24 * time.Hour), breached: true,
					missing: []string{`draft "notification" (PECR reg. 5A(2))`, "was due by 2026-03-03T09:00:00Z"}},
			},
		},
		"NIS2: before the notification is filed the final report has no deadline": {
			regime: nis2, now: 30 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"early-warning": {Decision: DecisionRequired, FiledAt: at(20 * time.Hour)},
				"notification":  required,
			}},
			want: map[string]want{
				"early-warning": {state: StateFiled, deadline: at(24 * time.Hour), frozen: true,
					missing: []string{`"early-warning" (NIS2 Art. 23(4)(a)) awaits acknowledgement by the CSIRT`}},
				"notification": {state: StateRequired, deadline: at(72 * time.Hour),
					missing: []string{`draft "notification" (NIS2 Art. 23(4)(b)) to the CSIRT, by 2026-03-05T09:00:00Z`}},
				// The final report follows the notification's decision.
				"final-report": {state: StateRequired,
					missing: []string{`draft "final-report" (NIS2 Art. 23(4)(d)) to the CSIRT, its clock starts when "notification" is filed`}},
			},
		},
		"NIS2: the final report is due one month after the notification's filing": {
			regime: nis2, now: 100 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"early-warning": {Decision: DecisionRequired, FiledAt: at(20 * time.Hour)},
				"notification":  {Decision: DecisionRequired, FiledAt: at(60 * time.Hour)},
			}},
			want: map[string]want{
				"notification": {state: StateFiled, deadline: at(72 * time.Hour), frozen: true,
					missing: []string{"awaits acknowledgement by the CSIRT"}},
				"final-report": {state: StateRequired, deadline: new(time.Date(2026, time.April, 4, 21, 0, 0, 0, time.UTC)),
					missing: []string{"by 2026-04-04T21:00:00Z"}},
			},
		},
		"NIS2: one month after 31 January is the end of February": {
			regime: nis2, now: 0,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"notification": {Decision: DecisionRequired, FiledAt: new(time.Date(2028, time.January, 31, 15, 0, 0, 0, time.UTC))},
			}},
			want: map[string]want{
				"final-report": {state: StateRequired, deadline: new(time.Date(2028, time.February, 29, 15, 0, 0, 0, time.UTC)),
					missing: []string{"by 2028-02-29T15:00:00Z"}},
			},
		},
		"NIS2: one decision that the incident is significant opens every stage": {
			regime: nis2, now: 10 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{"early-warning": required}},
			want: map[string]want{
				"early-warning": {state: StateRequired, deadline: at(24 * time.Hour),
					missing: []string{`draft "early-warning" (NIS2 Art. 23(4)(a)) to the CSIRT, by 2026-03-03T09:00:00Z`}},
				"notification": {state: StateRequired, deadline: at(72 * time.Hour),
					missing: []string{`draft "notification"`}},
				"final-report": {state: StateRequired,
					missing: []string{`its clock starts when "notification" is filed`}},
			},
		},
		"NIS2: not significant closes every stage, with no deadline": {
			regime: nis2, now: 1000 * time.Hour,
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"early-warning": {Decision: DecisionNotRequired},
			}},
			want: map[string]want{
				"early-warning": {state: StateNotRequired},
				"notification":  {state: StateNotRequired},
				"final-report":  {state: StateNotRequired},
			},
		},
		"DORA: not classified yet, no clock": {
			regime: dora, facts: Facts{AwareAt: aware}, now: 30 * time.Hour,
			want: map[string]want{
				"initial-notification": {state: StateToDecide,
					missing: []string{"its clock starts when the incident is classified"}},
			},
		},
		"DORA: 4 hours from classification": {
			regime: dora, now: 5 * time.Hour,
			facts: Facts{AwareAt: aware, ClassifiedAt: at(2 * time.Hour), Stages: map[string]StageFacts{
				"initial-notification": required,
			}},
			want: map[string]want{
				"initial-notification": {state: StateRequired, deadline: at(6 * time.Hour),
					missing: []string{`draft "initial-notification" (DORA Art. 19(4)(a)) to the competent authority, by 2026-03-02T15:00:00Z`}},
			},
		},
		"DORA: classified at 22 hours, due at 24 hours from awareness": {
			regime: dora, now: 25 * time.Hour,
			facts: Facts{AwareAt: aware, ClassifiedAt: at(22 * time.Hour), Stages: map[string]StageFacts{
				"initial-notification": required,
			}},
			want: map[string]want{
				"initial-notification": {state: StateRequired, deadline: at(24 * time.Hour), breached: true,
					missing: []string{"was due by 2026-03-03T09:00:00Z"}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Evaluate(tc.regime, tc.facts, aware.Add(tc.now))
			if len(got) != len(tc.regime.Stages) {
				t.Fatalf("got %d obligations for %d stages", len(got), len(tc.regime.Stages))
			}
			for i, o := range got {
				if o.Stage != tc.regime.Stages[i].Name || o.Citation != tc.regime.Stages[i].Citation {
					t.Errorf("obligation %d is %q (%s), want the regime's stage %q", i, o.Stage, o.Citation, tc.regime.Stages[i].Name)
				}
				w, ok := tc.want[o.Stage]
				if !ok {
					continue
				}
				check(t, o, w)
			}
		})
	}
}

func check(t *testing.T, o Obligation, w want) {
	t.Helper()
	if o.State != w.state {
		t.Errorf("%s: state %s, want %s", o.Stage, o.State, w.state)
	}
	if !sameTime(o.Deadline, w.deadline) {
		t.Errorf("%s: deadline %v, want %v", o.Stage, o.Deadline, w.deadline)
	}
	if o.Breached != w.breached {
		t.Errorf("%s: breached %v, want %v", o.Stage, o.Breached, w.breached)
	}
	if o.Frozen != w.frozen {
		t.Errorf("%s: frozen %v, want %v", o.Stage, o.Frozen, w.frozen)
	}
	if len(w.missing) == 0 && o.Missing != "" {
		t.Errorf("%s: missing %q, want nothing", o.Stage, o.Missing)
	}
	for _, phrase := range w.missing {
		if !strings.Contains(o.Missing, phrase) {
			t.Errorf("%s: missing %q, want it to say %q", o.Stage, o.Missing, phrase)
		}
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Correcting awareness after a late filing must not un-breach it: the
// deadline frozen at the first filing is what the filing is judged by.
func TestCorrectedAwarenessAfterFilingStaysBreached(t *testing.T) {
	filed := StageFacts{Decision: DecisionRequired, FiledAt: at(80 * time.Hour)}
	first := Evaluate(ukGDPR, Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": filed}}, aware.Add(81*time.Hour))[0]
	if !first.Breached || !first.Frozen || !sameTime(first.Deadline, at(72*time.Hour)) {
		t.Fatalf("filed at 80 hours: got breached %v, frozen %v, deadline %v; want breached and frozen at 72 hours",
			first.Breached, first.Frozen, first.Deadline)
	}

	// The deadline is recorded, then awareness is corrected to 10 hours later.
	filed.Deadline = first.Deadline
	corrected := Facts{AwareAt: aware.Add(10 * time.Hour), Stages: map[string]StageFacts{"notification": filed}}
	after := Evaluate(ukGDPR, corrected, aware.Add(90*time.Hour))[0]
	if !after.Breached || !sameTime(after.Deadline, at(72*time.Hour)) {
		t.Errorf("after correcting awareness: got breached %v, deadline %v; want still breached, deadline 72 hours after the first awareness",
			after.Breached, after.Deadline)
	}

	// Without the recorded deadline the correction would move it: the
	// caller's record is what holds it.
	filed.Deadline = nil
	unrecorded := Evaluate(ukGDPR, Facts{AwareAt: aware.Add(10 * time.Hour), Stages: map[string]StageFacts{"notification": filed}}, aware.Add(90*time.Hour))[0]
	if unrecorded.Breached {
		t.Errorf("the case is not a test of freezing: a corrected awareness without a recorded deadline is not breached either")
	}
}

// A regime whose stages anchor on each other in a circle, which the API
// refuses, must still be evaluated rather than loop.
func TestCircularAnchorsEnd(t *testing.T) {
	circle := &securityv1alpha1.RegulatoryRegimeSpec{Stages: []securityv1alpha1.RegimeStage{
		{Name: "a", DeadlineMonths: 1, Anchor: afterFiling("b"), OpenedBy: securityv1alpha1.OpenedBySignificant},
		{Name: "b", DeadlineMonths: 1, Anchor: afterFiling("a"), OpenedBy: securityv1alpha1.OpenedBySignificant},
	}}
	for _, o := range Evaluate(circle, Facts{AwareAt: aware}, aware) {
		if o.State != StateWaiting || o.Deadline != nil {
			t.Errorf("%s: state %s, deadline %v; want waiting with no deadline", o.Stage, o.State, o.Deadline)
		}
	}
}

// A stage that follows a filing (UK GDPR Art. 33(4) after the Art. 33(1)
// notification) has nothing to decide until that filing, and is not
// required when the stage it follows is not.
func TestAStageFollowingAFilingWaitsForIt(t *testing.T) {
	filed := StageFacts{Decision: DecisionRequired, FiledAt: at(60 * time.Hour)}
	for name, tc := range map[string]struct {
		notification StageFacts
		want         State
	}{
		"notification undecided":    {notification: StageFacts{}, want: StateWaiting},
		"notification drafted":      {notification: StageFacts{Decision: DecisionRequired, DraftedAt: at(time.Hour)}, want: StateWaiting},
		"notification not required": {notification: StageFacts{Decision: DecisionNotRequired}, want: StateNotRequired},
		"notification filed":        {notification: filed, want: StateToDecide},
	} {
		t.Run(name, func(t *testing.T) {
			facts := Facts{AwareAt: aware, Stages: map[string]StageFacts{"notification": tc.notification}}
			obligations := Evaluate(readRegime(t, "uk-gdpr.yaml"), facts, aware.Add(80*time.Hour))
			further := obligations[slices.IndexFunc(obligations, func(o Obligation) bool { return o.Stage == "further-information" })]
			if further.State != tc.want || further.Breached {
				t.Errorf("%s: %s, breached %v; want %s", further.Stage, further.State, further.Breached, tc.want)
			}
		})
	}
}
