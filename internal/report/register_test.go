package report

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// The register's fixtures: personal data breaches in namespace finance,
// each aware at t0, with the Filings people recorded for them.

func breachIncident(name string, spec securityv1alpha1.IncidentSpec, status securityv1alpha1.IncidentStatus) securityv1alpha1.Incident {
	spec.Title = cmp.Or(spec.Title, "Breach "+name)
	spec.Category = securityv1alpha1.CategoryUnauthorisedDisclosure
	spec.Severity = securityv1alpha1.SeverityHigh
	spec.Impact.PersonalData = true
	if status.AwareAt == nil {
		status.AwareAt = at(0)
	}
	inc := incident("finance", name, 0, spec, status)
	inc.UID = types.UID("uid-" + name)
	return inc
}

// The stages of UK GDPR the register reads, by name in the shipped regime.
const (
	notification = "notification"
	dataSubjects = "data-subjects"
)

var citations = map[string]string{notification: NotificationCitation, dataSubjects: CommunicationCitation}

// ukGDPR are the operator's obligations of UK GDPR for an incident aware
// at t0: the notification due 72 hours later, the communication to the
// data subjects without undue delay, each in state.
func ukGDPR(incident string, notified, told securityv1alpha1.ObligationState) []securityv1alpha1.ObligationStatus {
	return []securityv1alpha1.ObligationStatus{
		{Regime: BreachRegime, Stage: notification, Citation: NotificationCitation, Recipient: securityv1alpha1.RecipientSupervisoryAuthority,
			Filing: securityv1alpha1.FilingName(incident, BreachRegime, notification), State: notified, Deadline: at(72 * time.Hour)},
		{Regime: BreachRegime, Stage: dataSubjects, Citation: CommunicationCitation, Recipient: securityv1alpha1.RecipientDataSubjects,
			Filing: securityv1alpha1.FilingName(incident, BreachRegime, dataSubjects), State: told, WithoutUndueDelay: true},
	}
}

// filing is the Filing the operator opens for a stage of UK GDPR, with the
// steps recorded in steps.
func filing(incident, stage string, steps securityv1alpha1.FilingSpec) securityv1alpha1.Filing {
	return filingOf(BreachRegime, incident, stage, steps)
}

// filingOf is the Filing the operator opens for a stage of UK GDPR
// installed as regime.
func filingOf(regime, incident, stage string, steps securityv1alpha1.FilingSpec) securityv1alpha1.Filing {
	steps.Incident, steps.Regime, steps.Stage, steps.Citation = incident, regime, stage, citations[stage]
	steps.AgreementsRequired = 1
	return securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "finance", Name: securityv1alpha1.FilingName(incident, regime, stage),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: securityv1alpha1.GroupVersion.String(), Kind: "Incident", Name: incident, UID: types.UID("uid-" + incident)}},
		},
		Spec: steps,
	}
}

func agreedBy(users ...string) []securityv1alpha1.FilingAgreement {
	var agreements []securityv1alpha1.FilingAgreement
	for i, u := range users {
		agreements = append(agreements, securityv1alpha1.FilingAgreement{Sequence: int32(i), By: attested(u)})
	}
	return agreements
}

func utc(d time.Duration) time.Time { return t0.Add(d) }

// payslips was filed late, with the reason, by one person and agreed by
// two others; the authority acknowledged it, and the people were told.
var (
	payslipsDraft = map[string]securityv1alpha1.ContentValue{
		"nature": "Payslips posted to former addresses", "consequences": "Salaries seen by strangers", "measures": "Letters recovered; addresses checked",
	}
	payslips = breachIncident("payslips", securityv1alpha1.IncidentSpec{
		Impact:     securityv1alpha1.Impact{SpecialCategoryData: true, DataSubjects: new(int32(312))},
		Resolution: &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Eve", Summary: "Mail merge fixed"},
	}, securityv1alpha1.IncidentStatus{
		Obligations: ukGDPR("payslips", securityv1alpha1.ObligationAcknowledged, securityv1alpha1.ObligationFiled),
		ResolvedAt:  at(200 * time.Hour),
	})
	payslipsFilings = []securityv1alpha1.Filing{
		filing("payslips", notification, securityv1alpha1.FilingSpec{
			Decision:        &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: attested("dpo")},
			Draft:           &securityv1alpha1.FilingDraft{Content: payslipsDraft, DraftedBy: attested("dpo")},
			Agreements:      agreedBy("ace", "cfo"),
			Filed:           &securityv1alpha1.FilingSubmission{At: *at(100 * time.Hour), Reference: "DPB-0042", DelayReason: "The print supplier confirmed the run on day four", By: attested("dpo")},
			Acknowledgement: &securityv1alpha1.FilingAcknowledgement{At: *at(101 * time.Hour), CaseNumber: "IC-123456-A1B2", By: attested("dpo")},
		}),
		filing("payslips", dataSubjects, securityv1alpha1.FilingSpec{
			Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, Rationale: "Salaries and health deductions", DecidedBy: attested("ace")},
			Draft:      &securityv1alpha1.FilingDraft{Content: payslipsDraft, DraftedBy: attested("dpo")},
			Agreements: agreedBy("ace"),
			Filed:      &securityv1alpha1.FilingSubmission{At: *at(110 * time.Hour), By: attested("dpo")},
		}),
	}
)

func TestBreachRegisterRows(t *testing.T) {
	tests := map[string]struct {
		incident securityv1alpha1.Incident
		filings  []securityv1alpha1.Filing
		now      time.Time
		want     Breach
	}{
		"undecided, the clock running": {
			incident: breachIncident("undecided", securityv1alpha1.IncidentSpec{Description: "USB stick lost"},
				securityv1alpha1.IncidentStatus{Obligations: ukGDPR("undecided", securityv1alpha1.ObligationToDecide, securityv1alpha1.ObligationToDecide)}),
			filings: []securityv1alpha1.Filing{filing("undecided", notification, securityv1alpha1.FilingSpec{}), filing("undecided", dataSubjects, securityv1alpha1.FilingSpec{})},
			now:     utc(10 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "undecided", Title: "Breach undecided", Description: "USB stick lost", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification:  StageRecord{Decision: DecisionUndecided, Deadline: utc(72 * time.Hour), Timeliness: AuthorityDue},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"undecided past the deadline: overdue, by how long so far": {
			incident: breachIncident("forgotten", securityv1alpha1.IncidentSpec{},
				securityv1alpha1.IncidentStatus{Obligations: ukGDPR("forgotten", securityv1alpha1.ObligationToDecide, securityv1alpha1.ObligationToDecide)}),
			now: utc(80 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "forgotten", Title: "Breach forgotten", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification:  StageRecord{Decision: DecisionUndecided, Deadline: utc(72 * time.Hour), Timeliness: AuthorityOverdue, Late: 8 * time.Hour},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"decided not required, with reasons, agreed by a second person": {
			incident: breachIncident("encrypted-laptop", securityv1alpha1.IncidentSpec{
				Impact: securityv1alpha1.Impact{DataSubjects: new(int32(40))},
			}, securityv1alpha1.IncidentStatus{Obligations: ukGDPR("encrypted-laptop", securityv1alpha1.ObligationNotRequired, securityv1alpha1.ObligationNotRequired)}),
			filings: []securityv1alpha1.Filing{
				filing("encrypted-laptop", notification, securityv1alpha1.FilingSpec{
					Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Full-disk encryption; the key was not with it", DecidedBy: attested("dpo")},
					Agreements: agreedBy("ace"),
				}),
				filing("encrypted-laptop", dataSubjects, securityv1alpha1.FilingSpec{
					Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Encrypted", Exemption: securityv1alpha1.ExemptionUnintelligible, DecidedBy: attested("dpo")},
					Agreements: agreedBy("ace"),
				}),
			},
			now: utc(80 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "encrypted-laptop", Title: "Breach encrypted-laptop", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime}, DataSubjects: new(int32(40)),
				Notification: StageRecord{
					Decision: DecisionNotRequired, Rationale: "Full-disk encryption; the key was not with it", DecidedBy: "dpo", AgreedBy: []string{"ace"},
					Timeliness: AuthorityNotRequired,
				},
				Communication: StageRecord{
					Decision: DecisionNotRequired, Rationale: "Encrypted", Exemption: securityv1alpha1.ExemptionUnintelligible, DecidedBy: "dpo", AgreedBy: []string{"ace"},
					Timeliness: AuthorityNotRequired,
				},
			},
		},
		"decided not required, no second person yet: it does not stand, the clock runs": {
			incident: breachIncident("one-voice", securityv1alpha1.IncidentSpec{},
				securityv1alpha1.IncidentStatus{Obligations: ukGDPR("one-voice", securityv1alpha1.ObligationToDecide, securityv1alpha1.ObligationToDecide)}),
			filings: []securityv1alpha1.Filing{
				filing("one-voice", notification, securityv1alpha1.FilingSpec{
					Decision: &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Low risk", DecidedBy: attested("dpo")},
					// The decider agreeing with themself is no second person.
					Agreements: agreedBy("dpo"),
				}),
			},
			now: utc(73 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "one-voice", Title: "Breach one-voice", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification: StageRecord{
					Decision: DecisionNotRequiredUnagreed, Rationale: "Low risk", DecidedBy: "dpo", AgreedBy: []string{"dpo"},
					Deadline: utc(72 * time.Hour), Timeliness: AuthorityOverdue, Late: time.Hour,
				},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"filed late with the delay reason, acknowledged, the people told": {
			incident: payslips,
			filings:  payslipsFilings,
			now:      utc(300 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "payslips", Title: "Breach payslips", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime}, SpecialCategoryData: true, DataSubjects: new(int32(312)),
				Notification: StageRecord{
					Decision: DecisionRequired, DecidedBy: "dpo", DraftedBy: "dpo", AgreedBy: []string{"ace", "cfo"}, Content: contentOf(payslipsDraft),
					Deadline: utc(72 * time.Hour), Timeliness: AuthorityLate, Late: 28 * time.Hour,
					FiledAt: utc(100 * time.Hour), FiledBy: "dpo", Reference: "DPB-0042", DelayReason: "The print supplier confirmed the run on day four",
					CaseNumber: "IC-123456-A1B2",
				},
				Communication: StageRecord{
					Decision: DecisionRequired, Rationale: "Salaries and health deductions", DecidedBy: "ace", DraftedBy: "dpo", AgreedBy: []string{"ace"},
					Content: contentOf(payslipsDraft), FiledAt: utc(110 * time.Hour), FiledBy: "dpo",
				},
				Resolution: securityv1alpha1.ResolutionResolved, ResolvedAt: utc(200 * time.Hour), ResolutionSummary: "Mail merge fixed",
			},
		},
		"recorded on the incident before Filings: the notification, filed by whoever recorded it": {
			incident: breachIncident("legacy", securityv1alpha1.IncidentSpec{
				AuthorityNotification: &securityv1alpha1.AuthorityNotification{NotifiedAt: *at(50 * time.Hour), Reference: "ICO-99", RecordedBy: attested("old-dpo")},
			}, securityv1alpha1.IncidentStatus{AuthorityNotificationDeadline: at(72 * time.Hour)}),
			now: utc(80 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "legacy", Title: "Breach legacy", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification: StageRecord{
					Decision: DecisionRequired, Deadline: utc(72 * time.Hour), Timeliness: AuthorityOnTime,
					FiledAt: utc(50 * time.Hour), FiledBy: "old-dpo", Reference: "ICO-99",
				},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"recorded on the incident before Filings, late": {
			incident: breachIncident("legacy-late", securityv1alpha1.IncidentSpec{
				AuthorityNotification: &securityv1alpha1.AuthorityNotification{NotifiedAt: *at(90 * time.Hour), DelayReason: "Found on day four", RecordedBy: attested("old-dpo")},
			}, securityv1alpha1.IncidentStatus{}),
			now: utc(100 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "legacy-late", Title: "Breach legacy-late", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification: StageRecord{
					// No deadline recorded: the legal 72 hours from awareness.
					Decision: DecisionRequired, Deadline: utc(72 * time.Hour), Timeliness: AuthorityLate, Late: 18 * time.Hour,
					FiledAt: utc(90 * time.Hour), FiledBy: "old-dpo", DelayReason: "Found on day four",
				},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"a false positive, resolved undecided: not applicable": {
			incident: breachIncident("false-alarm", securityv1alpha1.IncidentSpec{
				Resolution: &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "Fay", Summary: "Test data, no real people"},
			}, securityv1alpha1.IncidentStatus{
				Obligations: ukGDPR("false-alarm", securityv1alpha1.ObligationNotApplicable, securityv1alpha1.ObligationNotApplicable),
				ResolvedAt:  at(5 * time.Hour),
			}),
			now: utc(100 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "false-alarm", Title: "Breach false-alarm", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification:  StageRecord{Decision: DecisionNotApplicable, Timeliness: AuthorityNotRequired},
				Communication: StageRecord{Decision: DecisionNotApplicable, Timeliness: AuthorityNotRequired},
				Resolution:    securityv1alpha1.ResolutionFalsePositive, ResolvedAt: utc(5 * time.Hour), ResolutionSummary: "Test data, no real people",
			},
		},
		"UK GDPR installed under another name, beside PECR": {
			incident: breachIncident("renamed", securityv1alpha1.IncidentSpec{}, securityv1alpha1.IncidentStatus{Obligations: []securityv1alpha1.ObligationStatus{
				{Regime: "pecr", Stage: notification, Citation: "PECR reg. 5A(2)", Filing: securityv1alpha1.FilingName("renamed", "pecr", notification), State: securityv1alpha1.ObligationFiled, Deadline: at(24 * time.Hour)},
				{Regime: "gdpr", Stage: notification, Citation: NotificationCitation, Filing: securityv1alpha1.FilingName("renamed", "gdpr", notification), State: securityv1alpha1.ObligationRequired, Deadline: at(72 * time.Hour)},
			}}),
			filings: func() []securityv1alpha1.Filing {
				pecr := filingOf("pecr", "renamed", notification, securityv1alpha1.FilingSpec{
					Decision: &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: attested("telecoms")},
					Filed:    &securityv1alpha1.FilingSubmission{At: *at(time.Hour), Reference: "PECR-1"},
				})
				pecr.Spec.Citation = "PECR reg. 5A(2)"
				return []securityv1alpha1.Filing{pecr, filingOf("gdpr", "renamed", notification, securityv1alpha1.FilingSpec{
					Decision: &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: attested("dpo")},
				})}
			}(),
			now: utc(2 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "renamed", Title: "Breach renamed", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{"pecr", "gdpr"},
				Notification:  StageRecord{Decision: DecisionRequired, DecidedBy: "dpo", Deadline: utc(72 * time.Hour), Timeliness: AuthorityDue},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"a Filing left by an earlier incident of the same name is not this one's": {
			incident: breachIncident("reused-name", securityv1alpha1.IncidentSpec{}, securityv1alpha1.IncidentStatus{}),
			filings: func() []securityv1alpha1.Filing {
				earlier := filing("reused-name", notification, securityv1alpha1.FilingSpec{
					Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Another breach", DecidedBy: attested("dpo")},
					Agreements: agreedBy("ace"),
				})
				earlier.OwnerReferences[0].UID = "uid-of-the-earlier-one"
				return []securityv1alpha1.Filing{earlier}
			}(),
			now: utc(1 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "reused-name", Title: "Breach reused-name", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt:       utc(0),
				Notification:  StageRecord{Decision: DecisionUndecided, Deadline: utc(72 * time.Hour), Timeliness: AuthorityDue},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
		"another Filing claiming the stage is not the record": {
			incident: breachIncident("forged", securityv1alpha1.IncidentSpec{},
				securityv1alpha1.IncidentStatus{Obligations: ukGDPR("forged", securityv1alpha1.ObligationToDecide, securityv1alpha1.ObligationToDecide)}),
			filings: func() []securityv1alpha1.Filing {
				forged := filing("forged", notification, securityv1alpha1.FilingSpec{
					Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Nothing to see", DecidedBy: attested("mallory")},
					Agreements: agreedBy("mallory-too"),
				})
				forged.Name = "forged-notification"
				return []securityv1alpha1.Filing{forged}
			}(),
			now: utc(1 * time.Hour),
			want: Breach{
				Namespace: "finance", Name: "forged", Title: "Breach forged", Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
				AwareAt: utc(0), Regimes: []string{BreachRegime},
				Notification:  StageRecord{Decision: DecisionUndecided, Deadline: utc(72 * time.Hour), Timeliness: AuthorityDue},
				Communication: StageRecord{Decision: DecisionUndecided},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rows := BreachRegister([]securityv1alpha1.Incident{tc.incident}, FilingsOf(tc.filings), time.UTC, tc.now)
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1", len(rows))
			}
			if got := rows[0]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row:\n got %s\nwant %s", describe(got), describe(tc.want))
			}
		})
	}
}

func contentOf(m map[string]securityv1alpha1.ContentValue) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// describe shows a row field by field, its data subjects by value.
func describe(b Breach) string {
	subjects := "nil"
	if b.DataSubjects != nil {
		subjects = fmt.Sprint(*b.DataSubjects)
	}
	b.DataSubjects = nil
	return fmt.Sprintf("%+v DataSubjects=%s", b, subjects)
}

// Only breaches of personal data are in the register, each once, oldest
// first; a Filing of another namespace's incident of the same name is not
// taken; times are in the register's zone.
func TestBreachRegisterSelectsAndOrders(t *testing.T) {
	loc := london(t)
	later := breachIncident("later", securityv1alpha1.IncidentSpec{}, securityv1alpha1.IncidentStatus{AwareAt: at(time.Hour)})
	first := breachIncident("first", securityv1alpha1.IncidentSpec{}, securityv1alpha1.IncidentStatus{})
	elsewhere := breachIncident("first", securityv1alpha1.IncidentSpec{}, securityv1alpha1.IncidentStatus{})
	elsewhere.Namespace = "housing"
	theirs := filing("first", notification, securityv1alpha1.FilingSpec{
		Decision: &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: attested("housing-dpo")},
	})
	theirs.Namespace = "housing"

	incidents := append([]securityv1alpha1.Incident{later, first, elsewhere}, fixtures...)
	rows := BreachRegister(incidents, FilingsOf([]securityv1alpha1.Filing{theirs}), loc, now)
	var names []string
	for _, r := range rows {
		names = append(names, r.Namespace+"/"+r.Name)
	}
	// The fixtures' breaches: wrong-letter (aware t0-130h), false-alarm
	// (t0-10h), lost-laptop (t0-1h); then ours at t0 and t0+1h.
	want := []string{"finance/wrong-letter", "finance/false-alarm", "finance/lost-laptop", "finance/first", "housing/first", "finance/later"}
	if !slices.Equal(names, want) {
		t.Errorf("register rows %v, want %v", names, want)
	}
	for _, r := range rows {
		if r.Namespace == "finance" && r.Name == "first" && r.Notification.Decision != DecisionUndecided {
			t.Errorf("finance/first took housing's Filing: %+v", r.Notification)
		}
		if r.Namespace == "housing" && r.Notification.DecidedBy != "housing-dpo" {
			t.Errorf("housing/first lost its own Filing: %+v", r.Notification)
		}
		if r.AwareAt.Location() != loc || (!r.Notification.Deadline.IsZero() && r.Notification.Deadline.Location() != loc) {
			t.Errorf("%s: times in %v and %v, want %v", r.Name, r.AwareAt.Location(), r.Notification.Deadline.Location(), loc)
		}
	}
}

// registerHeader is the register's header, as a regulator reads it.
var registerHeader = []string{
	"Namespace", "Incident", "Title", "Category", "Aware at", "Regimes", "Special category data", "Data subjects", "Description",
	"Art. 33 decision", "Art. 33 rationale", "Art. 33 decided by", "Art. 33 drafted by", "Art. 33 agreed by",
	"Art. 33 deadline", "Art. 33 filed at", "Art. 33 filed by", "Art. 33 reference", "Art. 33 timeliness", "Art. 33 late by (hours)",
	"Art. 33 delay reason", "Art. 33 case number", "Consequences (Art. 33 draft)", "Measures (Art. 33 draft)",
	"Art. 34 decision", "Art. 34 exemption", "Art. 34 rationale", "Art. 34 decided by", "Art. 34 told at",
	"Resolution", "Resolved at", "Resolution summary",
}

// registerFixtures are the register of payslips, an encrypted laptop
// decided not required, and the control document's fixtures, in London
// time, made 300 hours after t0.
func registerFixtures(t *testing.T) []Breach {
	t.Helper()
	laptop := breachIncident("encrypted-laptop", securityv1alpha1.IncidentSpec{Title: `=HYPERLINK("http://evil.example","click")`},
		securityv1alpha1.IncidentStatus{AwareAt: at(time.Hour)})
	filings := append(slices.Clone(payslipsFilings), filing("encrypted-laptop", dataSubjects, securityv1alpha1.FilingSpec{
		Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Encrypted", Exemption: securityv1alpha1.ExemptionUnintelligible, DecidedBy: attested("dpo")},
		Agreements: agreedBy("ace"),
	}))
	incidents := append([]securityv1alpha1.Incident{payslips, laptop}, fixtures...)
	return BreachRegister(incidents, FilingsOf(filings), london(t), utc(300*time.Hour))
}

// registerCells are the cells of the rows by column name, as CSV writes
// them, for the spot checks below.
func registerCells(records [][]string) []map[string]string {
	var rows []map[string]string
	for _, record := range records[1:] {
		row := map[string]string{}
		for i, name := range records[0] {
			row[name] = record[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestWriteBreachRegisterCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBreachRegisterCSV(&buf, registerFixtures(t)); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(records[0], registerHeader) {
		t.Fatalf("header:\n%q\nwant\n%q", records[0], registerHeader)
	}
	rows := registerCells(records)
	var names []string
	for _, r := range rows {
		names = append(names, r["Incident"])
	}
	if want := []string{"wrong-letter", "false-alarm", "lost-laptop", "payslips", "encrypted-laptop"}; !slices.Equal(names, want) {
		t.Fatalf("rows %v, want the breaches %v, oldest first", names, want)
	}
	tests := map[string]struct {
		row  int
		want map[string]string
	}{
		"filed late, agreed by two, acknowledged": {row: 3, want: map[string]string{
			"Aware at": "2026-10-05 10:00", "Regimes": "uk-gdpr", "Special category data": "Yes", "Data subjects": "312",
			"Art. 33 decision": "Required", "Art. 33 decided by": "dpo", "Art. 33 drafted by": "dpo", "Art. 33 agreed by": "ace; cfo",
			"Art. 33 deadline": "2026-10-08 10:00", "Art. 33 filed at": "2026-10-09 14:00", "Art. 33 filed by": "dpo", "Art. 33 reference": "DPB-0042",
			"Art. 33 timeliness": "Late", "Art. 33 late by (hours)": "28.00", "Art. 33 delay reason": "The print supplier confirmed the run on day four",
			"Art. 33 case number": "IC-123456-A1B2", "Consequences (Art. 33 draft)": "Salaries seen by strangers", "Measures (Art. 33 draft)": "Letters recovered; addresses checked",
			"Art. 34 decision": "Required", "Art. 34 told at": "2026-10-10 00:00",
			"Resolution": "Resolved", "Resolved at": "2026-10-13 18:00", "Resolution summary": "Mail merge fixed",
		}},
		"undecided and overdue, a formula defused, exempt from telling the people": {row: 4, want: map[string]string{
			"Title": `'=HYPERLINK("http://evil.example","click")`, "Special category data": "No", "Data subjects": "",
			"Art. 33 decision": "Undecided", "Art. 33 timeliness": "Overdue", "Art. 33 late by (hours)": "227.00", "Art. 33 filed at": "",
			"Art. 34 decision": "Not required", "Art. 34 exemption": "Unintelligible (Art. 34(3)(a))", "Art. 34 rationale": "Encrypted", "Art. 34 decided by": "dpo",
		}},
		"recorded on the incident before Filings, late": {row: 0, want: map[string]string{
			"Art. 33 decision": "Required", "Art. 33 filed by": "dpo", "Art. 33 reference": "ICO-123456", "Art. 33 timeliness": "Late",
			"Art. 33 late by (hours)": "8.00", "Art. 33 delay reason": "The recipient confirmed the contents only on day four", "Art. 34 decision": "Undecided",
		}},
		"a false positive": {row: 1, want: map[string]string{
			"Art. 33 decision": "Not applicable", "Art. 33 timeliness": "Not required", "Art. 33 deadline": "", "Resolution": "FalsePositive",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for column, want := range tc.want {
				if got := rows[tc.row][column]; got != want {
					t.Errorf("%s = %q, want %q", column, got, want)
				}
			}
		})
	}
}

func TestWriteBreachRegisterXLSX(t *testing.T) {
	tests := map[string]struct {
		rows []Breach
		// spot checks, by hand: cell → value as text, a number or a time
		want map[string]value
	}{
		"no breaches: the header and its filter": {},
		"the fixtures": {
			rows: registerFixtures(t),
			want: map[string]value{
				"B5":  "payslips",
				"E5":  time.Date(2026, 10, 5, 10, 0, 0, 0, london(t)),
				"G5":  "Yes",
				"H5":  312,
				"N5":  "ace; cfo",
				"P5":  time.Date(2026, 10, 9, 14, 0, 0, 0, london(t)),
				"S5":  "Late",
				"T5":  28.0,
				"V5":  "IC-123456-A1B2",
				"C6":  `=HYPERLINK("http://evil.example","click")`,
				"H6":  nil,
				"Z6":  "Unintelligible (Art. 34(3)(a))",
				"AC5": time.Date(2026, 10, 10, 0, 0, 0, 0, london(t)),
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteBreachRegisterXLSX(&buf, tc.rows); err != nil {
				t.Fatal(err)
			}
			f := openXLSX(t, buf.Bytes())
			const sheet = "Breach register"
			if got := f.GetSheetList(); !slices.Equal(got, []string{sheet}) {
				t.Errorf("sheets = %v, want [%s]", got, sheet)
			}
			tb := registerTable(tc.rows)
			checkTableLayout(t, buf.Bytes(), f, 1, tb)
			if got, _ := f.GetRows(sheet); len(got) == 0 || !slices.Equal(got[0], registerHeader) {
				t.Errorf("header row %v, want %v", got, registerHeader)
			}
			for r, row := range tb.rows {
				for c, v := range row {
					cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
					checkCell(t, f, sheet, cell, v)
				}
			}
			for cell, v := range tc.want {
				checkCell(t, f, sheet, cell, v)
			}
			if rows, _ := f.GetRows(sheet); len(rows) != len(tc.rows)+1 {
				t.Errorf("%d rows in the sheet, want %d", len(rows), len(tc.rows)+1)
			}
		})
	}
}

func TestWriteBreachRegisterMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteBreachRegisterMarkdown(&buf, registerFixtures(t)); err != nil {
		t.Fatal(err)
	}
	lines := markdownLines(t, buf.String(), 5, len(registerHeader))
	if want := "| " + strings.Join(registerHeader[:3], " | ") + " |"; !strings.HasPrefix(lines[0], want) {
		t.Errorf("header = %s\nwant it to start %s", lines[0], want)
	}
}

// The register knows its stages by the provisions they cite: the regime
// the project ships cites each in the stage that makes it, and no other
// shipped regime cites either.
func TestBreachRegisterCitationsAreTheShippedRegimes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "regimes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		regime, stage string
		recipient     securityv1alpha1.Recipient
	}{
		NotificationCitation:  {BreachRegime, notification, securityv1alpha1.RecipientSupervisoryAuthority},
		CommunicationCitation: {BreachRegime, dataSubjects, securityv1alpha1.RecipientDataSubjects},
	}
	found := map[string]int{}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var regime securityv1alpha1.RegulatoryRegime
		if err := yaml.UnmarshalStrict(data, &regime); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, s := range regime.Spec.Stages {
			w, ok := want[s.Citation]
			if !ok {
				continue
			}
			found[s.Citation]++
			if regime.Name != w.regime || s.Name != w.stage || s.Recipient != w.recipient {
				t.Errorf("%s/%s (to %s) cites %q, which the register reads as %s/%s, to %s", regime.Name, s.Name, s.Recipient, s.Citation, w.regime, w.stage, w.recipient)
			}
		}
	}
	for citation := range want {
		if found[citation] != 1 {
			t.Errorf("%d shipped stages cite %q, want 1", found[citation], citation)
		}
	}
}
