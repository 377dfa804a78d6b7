package report

import (
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// sameRow reports each field of got that differs from want.
func sameRow(t *testing.T, got, want Row) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if gt, ok := gf.(time.Time); ok {
			wt := wf.(time.Time)
			if !gt.Equal(wt) || gt.Location().String() != wt.Location().String() {
				t.Errorf("%s = %v, want %v", name, gt, wt)
			}
			continue
		}
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s = %#v, want %#v", name, gf, wf)
		}
	}
}

func TestControlDocumentRows(t *testing.T) {
	loc := london(t)
	in := func(d time.Duration) time.Time { return t0.Add(d).In(loc) }
	tests := map[string]struct {
		incident securityv1alpha1.Incident
		filings  []securityv1alpha1.Filing
		want     Row
	}{
		"open, escalated, a supplier's help desk, the authority still to be told": {
			incident: lostLaptop,
			want: Row{
				Namespace: "finance", Name: "lost-laptop", ReportedAt: in(0), AwareAt: in(-time.Hour),
				Type: "Incident", Title: "Laptop left on a train", Category: "Loss", Severity: "High",
				Reporter: "Ann Reporter", ReporterEmail: "ann@example.org", ReportedBy: "ann", Department: "Finance",
				Assets:           []string{"laptop-23"},
				Suppliers:        []string{"Walsall MBC"},
				SupplierContacts: []string{"Help desk: IT Service Desk, servicedesk@walsall.example, 01744 676525"},
				SecurityBreach:   true, PersonalData: true,
				EscalationLevel: 1, EscalatedTo: []string{"mi-manager", "Supplier <servicedesk@walsall.example>"},
				SLA:               SLAPending,
				AuthorityDeadline: in(71 * time.Hour), Authority: AuthorityDue,
				Phase: "Escalated",
			},
		},
		"acknowledged and resolved within target, by attested accounts": {
			incident: phishingMail,
			want: Row{
				Namespace: "finance", Name: "phishing-mail", ReportedAt: in(-48 * time.Hour), AwareAt: in(-48 * time.Hour),
				Type: "Incident", Title: "Mail asking for payroll details", Category: "Phishing", Severity: "Medium",
				Reporter: "Bob", Department: "Housing",
				EscalatedTo:    []string{"desk"},
				AcknowledgedAt: in(-47*time.Hour - 30*time.Minute), AcknowledgedBy: "Service Desk", AcknowledgedByAccount: "desk-1",
				ResolvedAt: in(-45 * time.Hour), ResolvedBy: "Carol Analyst", ResolvedByAccount: "carol",
				Resolution: "Resolved", ResolutionSummary: "Mail purged; sender blocked",
				SLA:   SLAMet,
				Phase: "Resolved",
			},
		},
		"major, acknowledged late, a supplier through a named contact": {
			incident: misOutage,
			want: Row{
				Namespace: "mis", Name: "mis-outage", ReportedAt: in(-24 * time.Hour), AwareAt: in(-24 * time.Hour),
				Type: "Incident", Title: "MIS down for every contract", Category: "SystemMalfunction", Severity: "Critical",
				Reporter:         "Dan",
				Assets:           []string{"mis-app"},
				Suppliers:        []string{"Capita One"},
				SupplierContacts: []string{"Named contact: Crystina Woolley, mi.manager@stw.example"},
				BusinessCritical: true, Major: true,
				EscalationLevel: 2, EscalatedTo: []string{"senior-management"},
				AcknowledgedAt: in(-20 * time.Hour), AcknowledgedBy: "Crystina Woolley",
				SLA:   SLAMissed,
				Phase: "Acknowledged",
			},
		},
		"the authority told late, with the reason": {
			incident: wrongLetter,
			want: Row{
				Namespace: "finance", Name: "wrong-letter", ReportedAt: in(-120 * time.Hour), AwareAt: in(-130 * time.Hour),
				Type: "Incident", Title: "Letter sent to the wrong address", Category: "UnauthorisedDisclosure", Severity: "High",
				Reporter: "Eve", ReporterEmail: "eve@example.org", Department: "Benefits",
				SecurityBreach: true, PersonalData: true,
				ResolvedAt: in(-40 * time.Hour), ResolvedBy: "Eve", Resolution: "Resolved",
				AuthorityDeadline: in(-58 * time.Hour), AuthorityNotifiedAt: in(-50 * time.Hour), AuthorityReference: "ICO-123456",
				Authority: AuthorityLate, AuthorityDelay: "The recipient confirmed the contents only on day four",
				Phase: "Resolved",
			},
		},
		"a false positive owes the authority nothing": {
			incident: falseAlarm,
			want: Row{
				Namespace: "finance", Name: "false-alarm", ReportedAt: in(-10 * time.Hour), AwareAt: in(-10 * time.Hour),
				Type: "Incident", Title: "Spreadsheet of names on a shared drive", Category: "Phishing", Severity: "Low",
				Reporter: "Fay", PersonalData: true,
				ResolvedAt: in(-9 * time.Hour), ResolvedBy: "Fay", Resolution: "FalsePositive",
				Authority: AuthorityNotRequired,
				Phase:     "Resolved",
			},
		},
		"a breach the operator has not seen: 72 hours from awareness, passed": {
			incident: incident("finance", "unseen-breach", -80*time.Hour, securityv1alpha1.IncidentSpec{
				Title: "USB stick lost", Category: "Loss", Severity: "Medium",
				Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Hal"}},
				Impact:   securityv1alpha1.Impact{PersonalData: true},
			}, securityv1alpha1.IncidentStatus{}),
			want: Row{
				Namespace: "finance", Name: "unseen-breach", ReportedAt: in(-80 * time.Hour), AwareAt: in(-80 * time.Hour),
				Type: "Incident", Title: "USB stick lost", Category: "Loss", Severity: "Medium", Reporter: "Hal", PersonalData: true,
				AuthorityDeadline: in(-8 * time.Hour), Authority: AuthorityOverdue,
				Phase: "Pending",
			},
		},
		"told the authority late on its Filing, as the register reads it": {
			incident: payslips, filings: payslipsFilings,
			want: Row{
				Namespace: "finance", Name: "payslips", ReportedAt: in(0), AwareAt: in(0),
				Type: "Incident", Title: "Breach payslips", Category: "UnauthorisedDisclosure", Severity: "High", PersonalData: true,
				ResolvedAt: in(200 * time.Hour), ResolvedBy: "Eve", Resolution: "Resolved", ResolutionSummary: "Mail merge fixed",
				AuthorityDeadline: in(72 * time.Hour), AuthorityNotifiedAt: in(100 * time.Hour), AuthorityReference: "DPB-0042",
				Authority: AuthorityLate, AuthorityDelay: "The print supplier confirmed the run on day four",
				Phase: "Pending",
			},
		},
		"decided on its Filing that the authority need not be told": {
			incident: breachIncident("encrypted", securityv1alpha1.IncidentSpec{}, securityv1alpha1.IncidentStatus{}),
			filings: []securityv1alpha1.Filing{filing("encrypted", notification, securityv1alpha1.FilingSpec{
				Decision:   &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Encrypted", DecidedBy: attested("dpo")},
				Agreements: agreedBy("ace"),
			})},
			want: Row{
				Namespace: "finance", Name: "encrypted", ReportedAt: in(0), AwareAt: in(0),
				Type: "Incident", Title: "Breach encrypted", Category: "UnauthorisedDisclosure", Severity: "High", PersonalData: true,
				Authority: AuthorityNotRequired,
				Phase:     "Pending",
			},
		},
		"a weakness not seen by the operator, naming a missing asset": {
			incident: passwordNote,
			want: Row{
				Namespace: "mis", Name: "password-note", ReportedAt: in(-2 * time.Hour), AwareAt: in(-2 * time.Hour),
				Type: "Weakness", Title: "Password on a sticky note", Description: "On the monitor, by reception.\nSeen twice | reported once",
				Category: "PasswordExposure", Severity: "Low", Reporter: "Gus",
				Assets: []string{"ghost"},
				Phase:  "Pending",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rows := ControlDocument([]securityv1alpha1.Incident{tc.incident}, fixtureAssets, FilingsOf(tc.filings), loc, now)
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1", len(rows))
			}
			sameRow(t, rows[0], tc.want)
		})
	}
}

func TestControlDocumentOrder(t *testing.T) {
	tie := func(namespace, name string) securityv1alpha1.Incident {
		return incident(namespace, name, -2*time.Hour, securityv1alpha1.IncidentSpec{Title: name}, securityv1alpha1.IncidentStatus{})
	}
	rows := ControlDocument(append(slices.Clone(fixtures), tie("mis", "a-tie"), tie("finance", "z-tie")), fixtureAssets, nil, time.UTC, now)
	var got []string
	for _, r := range rows {
		got = append(got, r.Namespace+"/"+r.Name)
	}
	// By report time; at the same time, by namespace and then name.
	want := []string{"finance/wrong-letter", "finance/phishing-mail", "mis/mis-outage", "finance/false-alarm", "finance/z-tie", "mis/a-tie", "mis/password-note", "finance/lost-laptop"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestSLAOutcome(t *testing.T) {
	sla := func(ack, resolve *metav1.Time) *securityv1alpha1.SLAStatus {
		return &securityv1alpha1.SLAStatus{AcknowledgeBy: ack, ResolveBy: resolve}
	}
	tests := map[string]struct {
		status securityv1alpha1.IncidentStatus
		want   SLAOutcome
	}{
		"no target":                         {want: SLANone},
		"targets without deadlines":         {status: securityv1alpha1.IncidentStatus{SLA: sla(nil, nil)}, want: SLANone},
		"both ahead":                        {status: securityv1alpha1.IncidentStatus{SLA: sla(at(3*time.Hour), at(5*time.Hour))}, want: SLAPending},
		"acknowledged in time, resolve due": {status: securityv1alpha1.IncidentStatus{SLA: sla(at(-time.Hour), at(5*time.Hour)), AcknowledgedAt: at(-2 * time.Hour)}, want: SLAPending},
		"acknowledge deadline passed unmet": {status: securityv1alpha1.IncidentStatus{SLA: sla(at(-time.Hour), at(5*time.Hour))}, want: SLAMissed},
		"a deadline at now is missed":       {status: securityv1alpha1.IncidentStatus{SLA: sla(at(2*time.Hour), nil)}, want: SLAMissed},
		"met on the deadline":               {status: securityv1alpha1.IncidentStatus{SLA: sla(at(-time.Hour), nil), AcknowledgedAt: at(-time.Hour)}, want: SLAMet},
		"resolution counts as acknowledgement": {
			status: securityv1alpha1.IncidentStatus{SLA: sla(at(-3*time.Hour), at(-time.Hour)), ResolvedAt: at(-4 * time.Hour)}, want: SLAMet,
		},
		"resolved late": {
			status: securityv1alpha1.IncidentStatus{SLA: sla(at(-3*time.Hour), at(-2*time.Hour)), AcknowledgedAt: at(-4 * time.Hour), ResolvedAt: at(-time.Hour)}, want: SLAMissed,
		},
		"a breach the operator saw stays": {
			status: securityv1alpha1.IncidentStatus{
				SLA: sla(at(3*time.Hour), nil), Conditions: []metav1.Condition{condition(securityv1alpha1.ConditionSLABreached, metav1.ConditionTrue)},
			},
			want: SLAMissed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := slaOutcome(&tc.status, now); got != tc.want {
				t.Errorf("slaOutcome = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAuthorityOutcome(t *testing.T) {
	deadline := now.Add(time.Hour)
	told := func(d time.Duration) *securityv1alpha1.AuthorityNotification {
		return &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(deadline.Add(d))}
	}
	personal := securityv1alpha1.Impact{PersonalData: true}
	tests := map[string]struct {
		spec     securityv1alpha1.IncidentSpec
		deadline time.Time
		want     AuthorityOutcome
	}{
		"no personal data":                {want: AuthorityNone},
		"due":                             {spec: securityv1alpha1.IncidentSpec{Impact: personal}, deadline: deadline, want: AuthorityDue},
		"overdue":                         {spec: securityv1alpha1.IncidentSpec{Impact: personal}, deadline: now, want: AuthorityOverdue},
		"told on the deadline is on time": {spec: securityv1alpha1.IncidentSpec{Impact: personal, AuthorityNotification: told(0)}, deadline: deadline, want: AuthorityOnTime},
		"told a second late":              {spec: securityv1alpha1.IncidentSpec{Impact: personal, AuthorityNotification: told(time.Second)}, deadline: deadline, want: AuthorityLate},
		"resolved still owes the report": {
			spec:     securityv1alpha1.IncidentSpec{Impact: personal, Resolution: &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved}},
			deadline: now, want: AuthorityOverdue,
		},
		"a duplicate owes nothing": {
			spec:     securityv1alpha1.IncidentSpec{Impact: personal, Resolution: &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionDuplicate}},
			deadline: now, want: AuthorityNotRequired,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inc := incident("finance", "breach", -time.Hour, tc.spec, securityv1alpha1.IncidentStatus{AuthorityNotificationDeadline: &metav1.Time{Time: tc.deadline}})
			if got := ControlDocument([]securityv1alpha1.Incident{inc}, nil, nil, time.UTC, now)[0].Authority; got != tc.want {
				t.Errorf("Authority = %q, want %q", got, tc.want)
			}
		})
	}
}

// fullRow has every column filled.
func fullRow(loc *time.Location) Row {
	in := func(d time.Duration) time.Time { return t0.Add(d).In(loc) }
	return Row{
		Namespace: "finance", Name: "lost-laptop", ReportedAt: in(0), AwareAt: in(-time.Hour),
		Type: "Incident", Title: "Laptop left on a train", Description: "Left on the 08:10", Category: "Loss", Severity: "High",
		Reporter: "Ann Reporter", ReporterEmail: "ann@example.org", ReportedBy: "ann", Department: "Finance",
		Assets: []string{"laptop-23", "phone-7"}, Suppliers: []string{"Walsall MBC", "Vodafone"},
		SupplierContacts:  []string{"Help desk: IT Service Desk", "Named contact: MI Manager"},
		SupplierReference: "",
		BusinessCritical:  true, SecurityBreach: true, PersonalData: true, Major: true,
		EscalationLevel: 1, EscalatedTo: []string{"mi-manager", "Supplier <servicedesk@walsall.example>"},
		AcknowledgedAt: in(90 * time.Minute), AcknowledgedBy: "Service Desk", AcknowledgedByAccount: "desk-1",
		ResolvedAt: in(30 * time.Hour), ResolvedBy: "Carol", ResolvedByAccount: "carol",
		Resolution: "Resolved", ResolutionSummary: "Laptop found; disk encrypted",
		SLA:               SLAMissed,
		AuthorityDeadline: in(71 * time.Hour), AuthorityNotifiedAt: in(80 * time.Hour), AuthorityReference: "ICO-1",
		Authority: AuthorityLate, AuthorityDelay: "Waited for the police",
		Phase: "Resolved",
	}
}

// fullRowText is fullRow's cells as text, column by column, in order.
var fullRowText = [][2]string{
	{"Namespace", "finance"},
	{"Name", "lost-laptop"},
	{"Reported at", "2026-10-05 10:00"},
	{"Aware at", "2026-10-05 09:00"},
	{"Type", "Incident"},
	{"Title", "Laptop left on a train"},
	{"Description", "Left on the 08:10"},
	{"Category", "Loss"},
	{"Severity", "High"},
	{"Reporter", "Ann Reporter"},
	{"Reporter email", "ann@example.org"},
	{"Reported by account", "ann"},
	{"Department", "Finance"},
	{"System or asset", "laptop-23; phone-7"},
	{"Supplier", "Walsall MBC; Vodafone"},
	{"Supplier contacted via", "Help desk: IT Service Desk; Named contact: MI Manager"},
	{"Supplier reference", ""},
	{"Business critical", "Yes"},
	{"Security breach", "Yes"},
	{"Personal data", "Yes"},
	{"Major", "Yes"},
	{"Escalation level", "1"},
	{"Escalated to", "mi-manager; Supplier <servicedesk@walsall.example>"},
	{"Acknowledged at", "2026-10-05 11:30"},
	{"Acknowledged by", "Service Desk"},
	{"Acknowledged by account", "desk-1"},
	{"Resolved at", "2026-10-06 16:00"},
	{"Resolved by", "Carol"},
	{"Resolved by account", "carol"},
	{"Resolution", "Resolved"},
	{"Resolution summary", "Laptop found; disk encrypted"},
	{"Hours to acknowledge", "1.50"},
	{"Hours to resolve", "30.00"},
	{"SLA met", "Missed"},
	{"Authority deadline", "2026-10-08 09:00"},
	{"Authority notified at", "2026-10-08 18:00"},
	{"Authority reference", "ICO-1"},
	{"Authority notification", "Late"},
	{"Authority delay reason", "Waited for the police"},
	{"Status", "Resolved"},
}

func TestColumns(t *testing.T) {
	table := controlTable([]Row{fullRow(london(t))})
	if len(table.columns) != len(fullRowText) {
		t.Fatalf("%d columns, want %d", len(table.columns), len(fullRowText))
	}
	for i, want := range fullRowText {
		if got := table.columns[i].name; got != want[0] {
			t.Errorf("column %d is %q, want %q", i, got, want[0])
		}
		if got := text(table.rows[0][i]); got != want[1] {
			t.Errorf("%s = %q, want %q", want[0], got, want[1])
		}
	}
}

// Every column is either imported or says why not, never both.
func TestColumnsImportedOrDerived(t *testing.T) {
	for _, c := range columns {
		if (c.set == nil) == (c.derived == "") {
			t.Errorf("column %q: set and derived must be exactly one", c.name)
		}
	}
}

func TestHoursBlankUntilKnown(t *testing.T) {
	tests := map[string]struct {
		row                  Row
		wantAck, wantResolve value
	}{
		"open":                     {row: Row{ReportedAt: t0}},
		"acknowledged":             {row: Row{ReportedAt: t0, AcknowledgedAt: t0.Add(45 * time.Minute)}, wantAck: 0.75},
		"resolved without an ack":  {row: Row{ReportedAt: t0, ResolvedAt: t0.Add(3 * time.Hour)}, wantAck: 3.0, wantResolve: 3.0},
		"acknowledged at once":     {row: Row{ReportedAt: t0, AcknowledgedAt: t0}, wantAck: 0.0},
		"no report time, no hours": {row: Row{AcknowledgedAt: t0}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := hours(tc.row.TimeToAcknowledge()); got != tc.wantAck {
				t.Errorf("hours to acknowledge = %v, want %v", got, tc.wantAck)
			}
			if got := hours(tc.row.TimeToResolve()); got != tc.wantResolve {
				t.Errorf("hours to resolve = %v, want %v", got, tc.wantResolve)
			}
		})
	}
}

func TestEscalatedTo(t *testing.T) {
	record := func(level int32, receiver, notice string) securityv1alpha1.NotificationRecord {
		return securityv1alpha1.NotificationRecord{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Receiver: receiver}, Level: level, Notice: notice}
	}
	reporter := securityv1alpha1.NotificationRecord{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Receiver: "Reporter"}, Level: 0, Role: securityv1alpha1.RoleReporter, Recipient: "ann@example.org", Notice: "Escalated"}
	tests := map[string]struct {
		level   int32
		records []securityv1alpha1.NotificationRecord
		want    []string
	}{
		"nobody told yet": {},
		"level 0":         {records: []securityv1alpha1.NotificationRecord{record(0, "desk", ""), record(0, "audit", "")}, want: []string{"desk", "audit"}},
		"the highest level only": {
			level:   1,
			records: []securityv1alpha1.NotificationRecord{record(0, "desk", ""), record(1, "manager", "Escalated")},
			want:    []string{"manager"},
		},
		"back at level 0 on a repeat: each receiver once, not the reporter's notice of it": {
			records: []securityv1alpha1.NotificationRecord{record(0, "desk", ""), record(1, "manager", "Escalated"), record(0, "desk", "Escalated"), reporter},
			want:    []string{"desk"},
		},
		"the reporter as a level's recipient is shown with the address": {
			records: []securityv1alpha1.NotificationRecord{{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Receiver: "Reporter"}, Level: 0, Role: securityv1alpha1.RoleReporter, Recipient: "ann@example.org"}},
			want:    []string{"Reporter <ann@example.org>"},
		},
		"notices are not escalations": {
			records: []securityv1alpha1.NotificationRecord{record(0, "desk", ""), record(0, "board", "Major"), record(0, "desk-ack", "Acknowledged")},
			want:    []string{"desk"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := escalatedTo(&securityv1alpha1.IncidentStatus{EscalationLevel: tc.level, Notifications: tc.records})
			if !slices.Equal(got, tc.want) {
				t.Errorf("escalatedTo = %q, want %q", got, tc.want)
			}
		})
	}
}
