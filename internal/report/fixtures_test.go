package report

import (
	"testing"
	"time"
	_ "time/tzdata" // Europe/London, whatever the machine has

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// t0 is a Monday in British Summer Time: 10:00 in London.
var t0 = time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)

// now is when the fixtures' document is made.
var now = t0.Add(2 * time.Hour)

func london(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func at(d time.Duration) *metav1.Time { m := metav1.NewTime(t0.Add(d)); return &m }

func incident(namespace, name string, reported time.Duration, spec securityv1alpha1.IncidentSpec, status securityv1alpha1.IncidentStatus) securityv1alpha1.Incident {
	return securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, CreationTimestamp: *at(reported)},
		Spec:       spec,
		Status:     status,
	}
}

func attested(user string) *securityv1alpha1.Attestation {
	return &securityv1alpha1.Attestation{Username: user}
}

func condition(typ string, status metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: "Test"}
}

// The fixtures: an incident of each kind the control document must show.
var (
	// lostLaptop is open and escalated; its asset's supplier is reached
	// through its help desk; personal data, the authority not told yet.
	lostLaptop = incident("finance", "lost-laptop", 0, securityv1alpha1.IncidentSpec{
		Title:      "Laptop left on a train",
		Type:       securityv1alpha1.TypeIncident,
		Category:   securityv1alpha1.CategoryLoss,
		Severity:   securityv1alpha1.SeverityHigh,
		Reporter:   securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Ann Reporter", Email: "ann@example.org"}, Department: "Finance"},
		ReportedBy: attested("ann"),
		Assets:     []string{"laptop-23"},
		Impact:     securityv1alpha1.Impact{PersonalData: true, SecurityBreach: true},
		AwareAt:    at(-time.Hour),
	}, securityv1alpha1.IncidentStatus{
		Phase:           securityv1alpha1.PhaseEscalated,
		AwareAt:         at(-time.Hour),
		EscalationLevel: 1,
		Notifications: []securityv1alpha1.NotificationRecord{
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "a", Receiver: "desk"}, Policy: "desk", Level: 0},
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "b", Receiver: "mi-manager"}, Policy: "desk", Level: 1, Notice: "Escalated"},
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "c", Receiver: "Reporter"}, Policy: "desk", Level: 0, Role: securityv1alpha1.RoleReporter, Recipient: "ann@example.org", Notice: "Escalated"},
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "d", Receiver: "Supplier"}, Policy: "desk", Level: 1, Role: securityv1alpha1.RoleSupplier, Recipient: "servicedesk@walsall.example", Notice: "Escalated"},
		},
		SLA:                           &securityv1alpha1.SLAStatus{Policy: "desk", AcknowledgeBy: at(4 * time.Hour), ResolveBy: at(72 * time.Hour)},
		AuthorityNotificationDeadline: at(71 * time.Hour),
		Conditions:                    []metav1.Condition{condition(securityv1alpha1.ConditionMajor, metav1.ConditionFalse)},
	})

	// phishingMail was acknowledged and resolved within its targets, by
	// people whose accounts the API server attested.
	phishingMail = incident("finance", "phishing-mail", -48*time.Hour, securityv1alpha1.IncidentSpec{
		Title:           "Mail asking for payroll details",
		Category:        securityv1alpha1.CategoryPhishing,
		Severity:        securityv1alpha1.SeverityMedium,
		Reporter:        securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Bob"}, Department: "Housing"},
		Acknowledgement: &securityv1alpha1.Acknowledgement{By: "Service Desk", AttestedBy: attested("desk-1")},
		Resolution:      &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Carol Analyst", Summary: "Mail purged; sender blocked", AttestedBy: attested("carol")},
	}, securityv1alpha1.IncidentStatus{
		Phase:          securityv1alpha1.PhaseResolved,
		AcknowledgedAt: at(-47*time.Hour - 30*time.Minute),
		ResolvedAt:     at(-45 * time.Hour),
		Notifications: []securityv1alpha1.NotificationRecord{
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "a", Receiver: "desk"}, Policy: "desk", Level: 0},
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "b", Receiver: "desk"}, Policy: "desk", Level: 0, Notice: "Acknowledged"},
		},
		SLA: &securityv1alpha1.SLAStatus{Policy: "desk", AcknowledgeBy: at(-44 * time.Hour), ResolveBy: at(-24 * time.Hour)},
	})

	// misOutage is a major incident, acknowledged after its target; its
	// supplier is reached only through a named contact.
	misOutage = incident("mis", "mis-outage", -24*time.Hour, securityv1alpha1.IncidentSpec{
		Title:           "MIS down for every contract",
		Category:        securityv1alpha1.CategorySystemMalfunction,
		Severity:        securityv1alpha1.SeverityCritical,
		Reporter:        securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Dan"}},
		Assets:          []string{"mis-app"},
		Impact:          securityv1alpha1.Impact{BusinessCritical: true, ServiceAffecting: true},
		Acknowledgement: &securityv1alpha1.Acknowledgement{By: "Crystina Woolley"},
	}, securityv1alpha1.IncidentStatus{
		Phase:           securityv1alpha1.PhaseAcknowledged,
		AcknowledgedAt:  at(-20 * time.Hour),
		EscalationLevel: 2,
		Notifications: []securityv1alpha1.NotificationRecord{
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "a", Receiver: "desk"}, Policy: "mis", Level: 0},
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "b", Receiver: "senior-management"}, Policy: "mis", Level: 2, Notice: "Escalated"},
			{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "c", Receiver: "management-team"}, Policy: "mis", Level: 2, Notice: "Major"},
		},
		SLA:        &securityv1alpha1.SLAStatus{Policy: "mis", AcknowledgeBy: at(-23 * time.Hour), ResolveBy: at(24 * time.Hour)},
		Conditions: []metav1.Condition{condition(securityv1alpha1.ConditionMajor, metav1.ConditionTrue)},
	})

	// wrongLetter is a personal data breach reported to the authority
	// late, with the reason, and resolved without an acknowledgement.
	wrongLetter = incident("finance", "wrong-letter", -120*time.Hour, securityv1alpha1.IncidentSpec{
		Title:    "Letter sent to the wrong address",
		Category: securityv1alpha1.CategoryUnauthorisedDisclosure,
		Severity: securityv1alpha1.SeverityHigh,
		Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Eve", Email: "eve@example.org"}, Department: "Benefits"},
		Impact:   securityv1alpha1.Impact{PersonalData: true, SecurityBreach: true},
		AwareAt:  at(-130 * time.Hour),
		AuthorityNotification: &securityv1alpha1.AuthorityNotification{
			NotifiedAt:  *at(-50 * time.Hour),
			Reference:   "ICO-123456",
			DelayReason: "The recipient confirmed the contents only on day four",
			RecordedBy:  attested("dpo"),
		},
		Resolution: &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Eve"},
	}, securityv1alpha1.IncidentStatus{
		Phase:                         securityv1alpha1.PhaseResolved,
		AwareAt:                       at(-130 * time.Hour),
		ResolvedAt:                    at(-40 * time.Hour),
		AuthorityNotificationDeadline: at(-58 * time.Hour),
	})

	// falseAlarm named personal data but was a false positive: nothing to
	// report to the authority. The operator has set no deadline.
	falseAlarm = incident("finance", "false-alarm", -10*time.Hour, securityv1alpha1.IncidentSpec{
		Title:      "Spreadsheet of names on a shared drive",
		Category:   securityv1alpha1.CategoryPhishing,
		Severity:   securityv1alpha1.SeverityLow,
		Reporter:   securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Fay"}},
		Impact:     securityv1alpha1.Impact{PersonalData: true},
		Resolution: &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "Fay"},
	}, securityv1alpha1.IncidentStatus{
		Phase:      securityv1alpha1.PhaseResolved,
		ResolvedAt: at(-9 * time.Hour),
	})

	// passwordNote is a weakness the operator has not seen yet, naming an
	// asset that does not exist.
	passwordNote = incident("mis", "password-note", -2*time.Hour, securityv1alpha1.IncidentSpec{
		Title:       "Password on a sticky note",
		Description: "On the monitor, by reception.\nSeen twice | reported once",
		Type:        securityv1alpha1.TypeWeakness,
		Category:    securityv1alpha1.CategoryPasswordExposure,
		Severity:    securityv1alpha1.SeverityLow,
		Reporter:    securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Gus"}},
		Assets:      []string{"ghost"},
	}, securityv1alpha1.IncidentStatus{})

	fixtures = []securityv1alpha1.Incident{lostLaptop, phishingMail, misOutage, wrongLetter, falseAlarm, passwordNote}

	fixtureAssets = AssetsOf([]securityv1alpha1.Asset{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "laptop-23"},
			Spec: securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetLaptop, Supplier: &securityv1alpha1.Supplier{
				Name: "Walsall MBC", ContactVia: securityv1alpha1.ContactDirect,
				HelpDesk: &securityv1alpha1.Contact{Name: "IT Service Desk", Email: "servicedesk@walsall.example", Phone: "01744 676525"},
			}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "mis", Name: "mis-app"},
			Spec: securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetApplication, BusinessCritical: true, Supplier: &securityv1alpha1.Supplier{
				Name: "Capita One", ContactVia: securityv1alpha1.ContactNamedContact,
				NamedContact: &securityv1alpha1.Contact{Name: "Crystina Woolley", Email: "mi.manager@stw.example"},
			}},
		},
		// Same name as the laptop, another namespace: must not be taken
		// for it.
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "mis", Name: "laptop-23"},
			Spec:       securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetLaptop, Supplier: &securityv1alpha1.Supplier{Name: "Wrong Supplier"}},
		},
	})
)
