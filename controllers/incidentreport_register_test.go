package controllers_test

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// The breach register, run by an IncidentReport: every personal data
// breach of the namespace, whenever it happened, each with what people
// recorded on the Filings the operator opened, under the accounts the API
// server attested; the namespace's other incidents and another namespace's
// breaches are not in it. One breach was filed late with its reason and
// acknowledged, one decided not required and agreed by a second person,
// one is still undecided, and one was told to the authority before
// Filings existed.
func TestIncidentReportBreachRegister(t *testing.T) {
	ns, other := newNamespace(t), newNamespace(t)
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	regimePolicy(t, ns, regime)
	dpo := holdingAll(t, ns, "dpo", "incident-responder")
	ace := holdingAll(t, ns, "ace-finance", "incident-filing-approver")
	now := time.Now().Truncate(time.Second)

	breach := func(name string, awareAgo time.Duration, impact securityv1alpha1.Impact) *securityv1alpha1.Incident {
		inc := newIncident(ns, name, securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
		impact.PersonalData = true
		inc.Spec.Impact = impact
		inc.Spec.AwareAt = &metav1.Time{Time: now.Add(-awareAgo)}
		return inc
	}
	create(t, breach("payslips", 100*time.Hour, securityv1alpha1.Impact{SpecialCategoryData: true, DataSubjects: new(int32(312))}))
	create(t, breach("encrypted-laptop", 3*time.Hour, securityv1alpha1.Impact{}))
	create(t, breach("lost-usb", 80*time.Hour, securityv1alpha1.Impact{}))
	// Told to the authority on the incident itself, as before Filings.
	oldLetter := breach("old-letter", 10*time.Hour, securityv1alpha1.Impact{})
	oldLetter.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.Time{Time: now.Add(-5 * time.Hour)}, Reference: "ICO-OLD-1"}
	create(t, oldLetter)
	create(t, newIncident(ns, "phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityLow))
	theirs := newIncident(other, "theirs", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh)
	theirs.Spec.Impact.PersonalData = true
	create(t, theirs)

	// payslips: drafted by the DPO, agreed by the ACE, filed late with the
	// reason, acknowledged; the people need not be told.
	waitForObligation(t, ns, "payslips", regime, "notification", securityv1alpha1.ObligationToDecide)
	notification := getFiling(t, ns, "payslips", regime, "notification")
	for i, step := range []struct {
		by   client.Client
		step func(*securityv1alpha1.FilingSpec)
	}{
		{dpo, func(s *securityv1alpha1.FilingSpec) { s.Draft = &securityv1alpha1.FilingDraft{Content: breachContent} }},
		{ace, agreement("Agreed for the ACE (Finance)")},
		{dpo, func(s *securityv1alpha1.FilingSpec) {
			s.Filed = &securityv1alpha1.FilingSubmission{At: metav1.Time{Time: now.Add(-2 * time.Hour)}, Reference: "DPB-0042",
				DelayReason: "The print supplier confirmed the run only on day four"}
		}},
		{dpo, func(s *securityv1alpha1.FilingSpec) {
			s.Acknowledgement = &securityv1alpha1.FilingAcknowledgement{At: metav1.Time{Time: now.Add(-time.Hour)}, CaseNumber: "IC-123456-A1B2"}
		}},
	} {
		if err := recordStep(t, step.by, notification, step.step); err != nil {
			t.Fatalf("step %d on %s: %v", i+1, notification.Name, err)
		}
	}
	decideNotRequired := func(incident, stage, rationale string, exemption securityv1alpha1.Exemption) {
		t.Helper()
		filing := getFiling(t, ns, incident, regime, stage)
		if err := recordStep(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) {
			s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: rationale, Exemption: exemption}
		}); err != nil {
			t.Fatal(err)
		}
		if err := recordStep(t, ace, filing, agreement("Agreed")); err != nil {
			t.Fatal(err)
		}
	}
	decideNotRequired("payslips", "data-subjects", "The letters were recovered unopened.", securityv1alpha1.ExemptionRiskNoLongerLikely)
	waitForObligation(t, ns, "encrypted-laptop", regime, "notification", securityv1alpha1.ObligationToDecide)
	decideNotRequired("encrypted-laptop", "notification", "The disk is encrypted; the key was not with it.", "")
	waitForObligation(t, ns, "payslips", regime, "notification", securityv1alpha1.ObligationAcknowledged)
	waitForObligation(t, ns, "encrypted-laptop", regime, "notification", securityv1alpha1.ObligationNotRequired)
	waitForObligation(t, ns, "lost-usb", regime, "notification", securityv1alpha1.ObligationToDecide)
	told, _ := waitForObligation(t, ns, "old-letter", regime, "notification", securityv1alpha1.ObligationFiled)
	recordedBy := told.Spec.AuthorityNotification.RecordedBy
	if recordedBy == nil || recordedBy.Username == "" {
		t.Fatalf("the authority notification was not attested: %+v", told.Spec.AuthorityNotification)
	}

	hook := newDocumentReceiver(t, nil)
	create(t, secretWithData(ns, "dpo-records", map[string]string{"url": hook.URL}))
	schedule, slot := weeklySlot()
	report := controlDocumentReport(ns, "breach-register", schedule, hookReceiver("dpo-records", "dpo-records"))
	report.Spec.Report = securityv1alpha1.ReportBreachRegister
	run := firstRun(t, report, slot, allDelivered)
	if run.Incidents != 4 || run.Format != securityv1alpha1.ReportXLSX || run.Filename != "breach-register-"+slot.Format("2006-01-02-1504")+".xlsx" {
		t.Errorf("run: %d incidents as %s in %s; want the 4 breaches as XLSX", run.Incidents, run.Format, run.Filename)
	}
	got := hook.received()
	if len(got) != 1 || got[0].msg.Document == nil || got[0].msg.Kind != string(securityv1alpha1.ReportBreachRegister) || got[0].msg.SHA256 != run.SHA256 {
		t.Fatalf("the webhook received %d messages; want the run's register once", len(got))
	}

	register := readRegister(t, got[0].msg.Content)
	var names []string
	for name := range register {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"encrypted-laptop", "lost-usb", "old-letter", "payslips"}; !slices.Equal(names, want) {
		t.Fatalf("the register holds %v, want the namespace's breaches %v", names, want)
	}
	tests := map[string]map[string]string{
		"payslips": {
			"Regimes": regime, "Special category data": "Yes", "Data subjects": "312",
			"Art. 33 decision": "Required", "Art. 33 drafted by": "dpo", "Art. 33 agreed by": "ace-finance",
			"Art. 33 filed by": "dpo", "Art. 33 reference": "DPB-0042", "Art. 33 timeliness": "Late",
			"Art. 33 delay reason": "The print supplier confirmed the run only on day four", "Art. 33 case number": "IC-123456-A1B2",
			"Consequences (Art. 33 draft)": string(breachContent["consequences"]), "Measures (Art. 33 draft)": string(breachContent["measures"]),
			"Art. 34 decision": "Not required", "Art. 34 exemption": "Risk no longer likely (Art. 34(3)(b))",
			"Art. 34 rationale": "The letters were recovered unopened.", "Art. 34 decided by": "dpo",
		},
		"encrypted-laptop": {
			"Art. 33 decision": "Not required", "Art. 33 rationale": "The disk is encrypted; the key was not with it.",
			"Art. 33 decided by": "dpo", "Art. 33 agreed by": "ace-finance", "Art. 33 timeliness": "Not required", "Art. 33 deadline": "",
			"Art. 34 decision": "Undecided",
		},
		"lost-usb": {
			"Art. 33 decision": "Undecided", "Art. 33 timeliness": "Overdue", "Art. 33 filed at": "", "Art. 33 decided by": "",
		},
		"old-letter": {
			"Art. 33 decision": "Required", "Art. 33 filed by": recordedBy.Username, "Art. 33 reference": "ICO-OLD-1",
			"Art. 33 timeliness": "On time", "Art. 33 late by (hours)": "",
		},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			for column, value := range want {
				if got := register[name][column]; got != value {
					t.Errorf("%s = %q, want %q", column, got, value)
				}
			}
		})
	}
	// 26 hours late: filed 98 hours after awareness, due at 72.
	if late, err := strconv.ParseFloat(register["payslips"]["Art. 33 late by (hours)"], 64); err != nil || late < 25.9 || late > 26.1 {
		t.Errorf("payslips late by %q hours, want 26", register["payslips"]["Art. 33 late by (hours)"])
	}
	waitForEvent(t, ns, report.Name, "ReportSent", "Normal")
}

// recordStep records a step as record does, again on the latest version
// when the Filing changed between reading and writing: the operator writes
// its status meanwhile.
func recordStep(t *testing.T, c client.Client, filing *securityv1alpha1.Filing, step func(*securityv1alpha1.FilingSpec)) error {
	t.Helper()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error { return record(t, c, filing, step) })
}

// readRegister reads the breach register's workbook: each row by incident
// name, each cell by column name, as the spreadsheet shows it.
func readRegister(t *testing.T, content []byte) map[string]map[string]string {
	t.Helper()
	book, err := excelize.OpenReader(bytes.NewReader(content))
	if err != nil {
		t.Fatalf("the document is not a workbook: %v", err)
	}
	rows, err := book.GetRows("Breach register")
	if err != nil || len(rows) == 0 {
		t.Fatalf("reading the sheet Breach register: %v (%d rows)", err, len(rows))
	}
	header := rows[0]
	register := map[string]map[string]string{}
	for _, row := range rows[1:] {
		cells := map[string]string{}
		for i, name := range header {
			if i < len(row) {
				cells[name] = row[i]
			} else {
				cells[name] = ""
			}
		}
		if _, twice := register[cells["Incident"]]; twice {
			t.Errorf("incident %s has two rows", cells["Incident"])
		}
		register[cells["Incident"]] = cells
	}
	if fmt.Sprint(header[:2]) != "[Namespace Incident]" {
		t.Errorf("header %v", header)
	}
	return register
}
