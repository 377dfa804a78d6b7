package lifecycle

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

var routed = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

func minutes(n int) *securityv1alpha1.Duration {
	return securityv1alpha1.NewDuration(time.Duration(n) * time.Minute)
}

// escalatingPolicy has three levels 10 and 20 minutes apart, repeated once
// after 30 minutes.
func escalatingPolicy() *securityv1alpha1.EscalationPolicy {
	return &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "desk"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{{Name: "desk"}, {Name: "manager"}, {Name: "director"}},
			Escalation: securityv1alpha1.Escalation{
				Levels: []securityv1alpha1.EscalationLevel{
					{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "desk"}, {Role: securityv1alpha1.RoleReporter}}},
					{After: minutes(10), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "manager"}, {Role: securityv1alpha1.RoleLineManager}}},
					{After: minutes(20), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "director"}}},
				},
				Repeat:      1,
				RepeatAfter: minutes(30),
			},
		},
	}
}

func routedIncident(policies ...string) *securityv1alpha1.Incident {
	inc := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "fault", UID: "uid-1", Generation: 1},
		Spec: securityv1alpha1.IncidentSpec{
			Title: "Payroll down", Category: securityv1alpha1.CategorySystemMalfunction, Severity: securityv1alpha1.SeverityHigh,
			Reporter: securityv1alpha1.Reporter{
				Contact:     securityv1alpha1.Contact{Name: "Ann", Email: "ann@example.org"},
				LineManager: &securityv1alpha1.Contact{Name: "Bob", Email: "bob@example.org"},
			},
		},
	}
	at, routedAt := metav1.NewTime(routed), securityv1alpha1.NewPreciseTime(routed)
	inc.CreationTimestamp = at
	inc.Status.RoutedAt, inc.Status.AwareAt = &routedAt, &at
	for _, p := range policies {
		inc.Status.Policies = append(inc.Status.Policies, securityv1alpha1.PolicyReference{Name: p, Generation: 1})
	}
	return inc
}

func advance(inc *securityv1alpha1.Incident, now time.Time, policies ...*securityv1alpha1.EscalationPolicy) Outcome {
	byName := map[string]*securityv1alpha1.EscalationPolicy{}
	for _, p := range policies {
		byName[p.Name] = p
	}
	return Advance(Input{Now: now, Incident: inc, Policies: byName, Assets: map[string]*securityv1alpha1.Asset{},
		ChannelOf: func(*securityv1alpha1.EscalationPolicy, string) string { return "webhook" }})
}

// owed lists the deliveries as receiver[/recipient]@level.repeat[+notice].
func owed(inc *securityv1alpha1.Incident) []string {
	var out []string
	for _, r := range inc.Status.Notifications {
		s := r.Receiver
		if r.Recipient != "" {
			s += "/" + r.Recipient
		}
		s += "@" + string(rune('0'+r.Level))
		if r.Notice != "" {
			s += "+" + r.Notice
		}
		out = append(out, s)
	}
	return out
}

func deliverAll(inc *securityv1alpha1.Incident) {
	for i := range inc.Status.Notifications {
		inc.Status.Notifications[i].State = securityv1alpha1.DeliveryDelivered
	}
}

func TestEscalationClimbsUntilAcknowledged(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")

	out := advance(inc, routed, policy)
	if got := strings.Join(owed(inc), " "); got != "desk@0 Reporter/ann@example.org@0" {
		t.Fatalf("at routing owed %s", got)
	}
	ref := inc.Status.Policies[0]
	if ref.Level != 0 || !ref.LevelReachedAt.Time.Equal(routed) || !ref.NextEscalationAt.Time.Equal(routed.Add(10*time.Minute)) {
		t.Fatalf("after routing: %+v", ref)
	}
	if !out.Wake.Equal(routed.Add(10 * time.Minute)) {
		t.Errorf("wake = %s, want the level 1 time", out.Wake)
	}
	if inc.Status.Phase != securityv1alpha1.PhaseOpen {
		t.Errorf("phase = %s, want Open", inc.Status.Phase)
	}
	deliverAll(inc)

	// One second early: nothing happens.
	advance(inc, routed.Add(10*time.Minute-time.Second), policy)
	if len(inc.Status.Notifications) != 2 {
		t.Fatalf("escalated early: %v", owed(inc))
	}

	// On time: level 1, and the reporter hears of the escalation.
	out = advance(inc, routed.Add(10*time.Minute), policy)
	if got := strings.Join(owed(inc)[2:], " "); got != "manager@1+Escalated LineManager/bob@example.org@1+Escalated Reporter/ann@example.org@0+Escalated" {
		t.Fatalf("level 1 owed %s", got)
	}
	if inc.Status.Phase != securityv1alpha1.PhaseEscalated || inc.Status.EscalationLevel != 1 || len(out.Events) != 1 || out.Events[0].Reason != "Escalated" {
		t.Errorf("phase %s, events %+v", inc.Status.Phase, out.Events)
	}
	// Asked again at the same time, nothing more is owed: it fires once.
	n := len(inc.Status.Notifications)
	if out := advance(inc, routed.Add(10*time.Minute), policy); len(inc.Status.Notifications) != n || len(out.Events) != 0 {
		t.Fatalf("level 1 fired twice: %v %+v", owed(inc), out.Events)
	}
	deliverAll(inc)

	// Acknowledged before level 2: escalation stops, everyone told is told.
	inc.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Carol"}
	out = advance(inc, routed.Add(15*time.Minute), policy)
	if inc.Status.Phase != securityv1alpha1.PhaseAcknowledged || inc.Status.Policies[0].NextEscalationAt != nil {
		t.Fatalf("after acknowledgement: phase %s, next %v", inc.Status.Phase, inc.Status.Policies[0].NextEscalationAt)
	}
	notices := 0
	for _, r := range inc.Status.Notifications {
		if r.Notice == NoticeAcknowledged {
			notices++
		}
	}
	if notices != 4 { // desk, manager, ann, bob
		t.Errorf("acknowledgement notices = %d, want one per receiver and person told: %v", notices, owed(inc))
	}
	if !out.Wake.IsZero() {
		t.Errorf("wake = %s after acknowledgement, want nothing due", out.Wake)
	}
	n = len(inc.Status.Notifications)
	advance(inc, routed.Add(time.Hour), policy)
	if len(inc.Status.Notifications) != n {
		t.Errorf("escalated after acknowledgement: %v", owed(inc)[n:])
	}
}

func TestEscalationCatchesUpAfterDowntimeOnceEach(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	deliverAll(inc)

	// The operator was down for two hours: every level, and the repeat, is
	// reached once, each at its own scheduled time.
	advance(inc, routed.Add(2*time.Hour), policy)
	ref := inc.Status.Policies[0]
	// Levels: 0 at 0m, 1 at 10m, 2 at 30m; repeat 1: 0 at 60m, 1 at 70m, 2 at 90m.
	if ref.Repeat != 1 || ref.Level != 2 || !ref.LevelReachedAt.Time.Equal(routed.Add(90*time.Minute)) || ref.NextEscalationAt != nil {
		t.Fatalf("after catching up: %+v", ref)
	}
	count := map[string]int{}
	for _, r := range inc.Status.Notifications {
		if r.Notice != NoticeEscalated || r.Role != securityv1alpha1.RoleReporter {
			count[r.Receiver]++
		}
	}
	if count["desk"] != 2 || count["manager"] != 2 || count["director"] != 2 || count["LineManager"] != 2 {
		t.Errorf("deliveries by receiver = %v, want each level's receivers twice (chain and repeat)", count)
	}
	keys := map[string]bool{}
	for _, r := range inc.Status.Notifications {
		if keys[r.Key] {
			t.Errorf("duplicate key %s", r.Key)
		}
		keys[r.Key] = true
	}
}

func TestPhaseDerivation(t *testing.T) {
	policy := escalatingPolicy()
	for _, tc := range []struct {
		name  string
		setup func(*securityv1alpha1.Incident)
		at    time.Duration
		want  securityv1alpha1.IncidentPhase
	}{
		{"routed", func(*securityv1alpha1.Incident) {}, 0, securityv1alpha1.PhaseOpen},
		{"past level 0", func(*securityv1alpha1.Incident) {}, 11 * time.Minute, securityv1alpha1.PhaseEscalated},
		{"acknowledged", func(i *securityv1alpha1.Incident) {
			i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "x"}
		}, 11 * time.Minute, securityv1alpha1.PhaseAcknowledged},
		{"resolved without acknowledgement", func(i *securityv1alpha1.Incident) {
			i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "x"}
		}, time.Minute, securityv1alpha1.PhaseResolved},
		{"acknowledged and resolved", func(i *securityv1alpha1.Incident) {
			i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "x"}
			i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "x"}
		}, time.Minute, securityv1alpha1.PhaseResolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := routedIncident("desk")
			tc.setup(inc)
			advance(inc, routed.Add(tc.at), policy)
			if inc.Status.Phase != tc.want {
				t.Errorf("phase = %s, want %s", inc.Status.Phase, tc.want)
			}
		})
	}
}

func slaPolicy(hours securityv1alpha1.HoursKind) *securityv1alpha1.EscalationPolicy {
	p := escalatingPolicy()
	p.Spec.SLA = &securityv1alpha1.SLA{
		Calendar: &securityv1alpha1.Calendar{TimeZone: "Europe/London", Opens: "08:00", Closes: "17:30"},
		Targets: []securityv1alpha1.SLATarget{
			{Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityCritical}, AcknowledgeWithin: minutes(15)},
			{Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh}, AcknowledgeWithin: minutes(60), ResolveWithin: minutes(8 * 60),
				WarnBefore: minutes(30), Hours: hours},
		},
	}
	return p
}

func TestSLAAtRiskThenBreachedAndTheReporterIsTold(t *testing.T) {
	policy := slaPolicy(securityv1alpha1.CalendarHours)
	inc := routedIncident("desk")
	out := advance(inc, routed, policy)
	sla := inc.Status.SLA
	if sla == nil || !sla.AcknowledgeBy.Time.Equal(routed.Add(time.Hour)) || !sla.AcknowledgeAtRiskAt.Time.Equal(routed.Add(30*time.Minute)) ||
		!sla.ResolveBy.Time.Equal(routed.Add(8*time.Hour)) {
		t.Fatalf("SLA = %+v", sla)
	}
	if !out.Wake.Equal(routed.Add(10 * time.Minute)) { // level 1 comes first
		t.Errorf("wake = %s", out.Wake)
	}
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionSLAAtRisk); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("SLAAtRisk at routing = %+v", c)
	}

	out = advance(inc, routed.Add(30*time.Minute), policy)
	c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionSLAAtRisk)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != securityv1alpha1.ReasonAcknowledgeDueSoon {
		t.Fatalf("SLAAtRisk at 30m = %+v", c)
	}
	told := false
	for _, r := range inc.Status.Notifications {
		told = told || (r.Notice == NoticeSLAAtRisk && r.Recipient == "ann@example.org")
	}
	if !told {
		t.Errorf("the reporter was not told the SLA is at risk: %v", owed(inc))
	}
	if !out.Wake.Equal(routed.Add(time.Hour)) {
		t.Errorf("wake = %s, want the acknowledge deadline", out.Wake)
	}

	out = advance(inc, routed.Add(time.Hour), policy)
	c = meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionSLABreached)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != securityv1alpha1.ReasonAcknowledgeTargetMissed || !c.LastTransitionTime.Time.Equal(routed.Add(time.Hour)) {
		t.Fatalf("SLABreached at the deadline = %+v", c)
	}
	breaches := 0
	for _, e := range out.Events {
		if e.Reason == "SLABreached" {
			breaches++
		}
	}
	if out := advance(inc, routed.Add(time.Hour+time.Minute), policy); breaches != 1 || len(filter(out.Events, "SLABreached")) != 0 {
		t.Errorf("SLABreached events: %d at the deadline, %d after", breaches, len(filter(out.Events, "SLABreached")))
	}

	// Resolution stops the clocks: no longer at risk; the breach stays on record.
	inc.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "x"}
	out = advance(inc, routed.Add(2*time.Hour), policy)
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionSLAAtRisk); c.Status != metav1.ConditionFalse || c.Reason != securityv1alpha1.ReasonStoppedOnResolution {
		t.Errorf("SLAAtRisk after resolution = %+v", c)
	}
	if !meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLABreached) || !out.Wake.IsZero() {
		t.Errorf("after resolution: breached %v, wake %s", meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLABreached), out.Wake)
	}
}

func filter(events []Event, reason string) []Event {
	var out []Event
	for _, e := range events {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func TestAcknowledgementClearsTheAcknowledgeTarget(t *testing.T) {
	policy := slaPolicy(securityv1alpha1.CalendarHours)
	inc := routedIncident("desk")
	advance(inc, routed.Add(40*time.Minute), policy)
	if !meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLAAtRisk) {
		t.Fatal("not at risk at 40m")
	}
	inc.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "x"}
	out := advance(inc, routed.Add(45*time.Minute), policy)
	if meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLAAtRisk) ||
		meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLABreached) {
		t.Errorf("after acknowledging in time: %+v", inc.Status.Conditions)
	}
	// The resolve target remains: at risk 30 minutes before 8 hours.
	if want := routed.Add(7*time.Hour + 30*time.Minute); !out.Wake.Equal(want) {
		t.Errorf("wake = %s, want the resolve target's at-risk time %s", out.Wake, want)
	}
}

func TestBusinessHoursDeadlines(t *testing.T) {
	// Friday 16:30 London (GMT) with 60 business minutes to acknowledge:
	// 60 minutes remain on Friday until 17:30, so it is due at closing; 8
	// business hours to resolve run into Monday.
	friday := time.Date(2026, 3, 6, 16, 30, 0, 0, time.UTC)
	target := slaPolicy(securityv1alpha1.BusinessHours).Spec.SLA.Targets[1]
	s, err := Deadlines(friday, "desk", slaPolicy("").Spec.SLA.Calendar, target)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC); !s.AcknowledgeBy.Time.Equal(want) {
		t.Errorf("acknowledge by %s, want %s", s.AcknowledgeBy.Time, want)
	}
	if want := time.Date(2026, 3, 9, 15, 0, 0, 0, time.UTC); !s.ResolveBy.Time.Equal(want) {
		t.Errorf("resolve by %s, want %s (7 business hours on Monday)", s.ResolveBy.Time, want)
	}
	if want := time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC); !s.AcknowledgeAtRiskAt.Time.Equal(want) {
		t.Errorf("acknowledge at risk %s, want %s", s.AcknowledgeAtRiskAt.Time, want)
	}
}

func TestAuthorityClock(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	inc.Spec.Impact.PersonalData = true
	aware := routed.Add(-2 * time.Hour)
	inc.Status.AwareAt = &metav1.Time{Time: aware}

	out := advance(inc, routed, policy)
	deadline := aware.Add(72 * time.Hour)
	if !inc.Status.AuthorityNotificationDeadline.Time.Equal(deadline) {
		t.Fatalf("deadline = %s, want 72h after awareAt", inc.Status.AuthorityNotificationDeadline)
	}
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityNotificationRequired); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("AuthorityNotificationRequired = %+v", c)
	}
	_ = out

	// The deadline passes: its own condition and one Warning.
	inc.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "x"} // stops escalation, not this clock
	out = advance(inc, deadline, policy)
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("AuthorityDeadlineMissed = %+v", c)
	}
	if len(filter(out.Events, "AuthorityDeadlineMissed")) != 1 {
		t.Errorf("events = %+v", out.Events)
	}

	// Reported late with a reason.
	inc.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{
		NotifiedAt: metav1.NewTime(deadline.Add(time.Hour)), Reference: "ICO-123", DelayReason: "the extent was unclear",
	}
	advance(inc, deadline.Add(2*time.Hour), policy)
	c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityNotified)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != securityv1alpha1.ReasonReportedLate || !strings.Contains(c.Message, "ICO-123") {
		t.Errorf("AuthorityNotified = %+v", c)
	}
	if meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityNotificationRequired) {
		t.Error("still required after reporting")
	}
}

func TestAuthorityHoursComeFromThePolicy(t *testing.T) {
	policy := escalatingPolicy()
	policy.Spec.Regulatory = &securityv1alpha1.Regulatory{AuthorityNotificationWithin: securityv1alpha1.NewDuration(24 * time.Hour)}
	inc := routedIncident("desk")
	inc.Spec.Impact.PersonalData = true
	advance(inc, routed, policy)
	if want := routed.Add(24 * time.Hour); !inc.Status.AuthorityNotificationDeadline.Time.Equal(want) {
		t.Errorf("deadline = %s, want %s", inc.Status.AuthorityNotificationDeadline, want)
	}
	inc = routedIncident("desk")
	advance(inc, routed, policy)
	if inc.Status.AuthorityNotificationDeadline != nil || meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityNotificationRequired) != nil {
		t.Error("an incident without personal data got the authority clock")
	}
}

func TestRolesResolveFromAssetsAndMissingAssetsAreReported(t *testing.T) {
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "equipment"},
		Spec: securityv1alpha1.EscalationPolicySpec{Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{
			Notify: []securityv1alpha1.NotifyTarget{{Role: securityv1alpha1.RoleAssetOwner}, {Role: securityv1alpha1.RoleSystemOwner}, {Role: securityv1alpha1.RoleSupplier}},
		}}}},
	}
	inc := routedIncident("equipment")
	inc.Spec.Assets = []string{"laptop", "payroll", "ghost"}
	assets := map[string]*securityv1alpha1.Asset{
		"laptop": {Spec: securityv1alpha1.AssetSpec{Owner: securityv1alpha1.Contact{Name: "o", Email: "owner@example.org"},
			Supplier: &securityv1alpha1.Supplier{Name: "Acme", ContactVia: securityv1alpha1.ContactDirect, HelpDesk: &securityv1alpha1.Contact{Name: "h", Email: "help@acme.example"}}}},
		"payroll": {Spec: securityv1alpha1.AssetSpec{Owner: securityv1alpha1.Contact{Name: "o", Email: "owner@example.org"},
			SystemOwner: &securityv1alpha1.Contact{Name: "s", Email: "sysowner@example.org"},
			Supplier: &securityv1alpha1.Supplier{Name: "MI", ContactVia: securityv1alpha1.ContactNamedContact,
				HelpDesk: &securityv1alpha1.Contact{Name: "not me", Email: "direct@mi.example"}, NamedContact: &securityv1alpha1.Contact{Name: "MI Manager", Email: "mi-manager@example.org"}}}},
	}
	out := Advance(Input{Now: routed, Incident: inc, Policies: map[string]*securityv1alpha1.EscalationPolicy{"equipment": policy}, Assets: assets,
		ChannelOf: func(*securityv1alpha1.EscalationPolicy, string) string { return "" }})
	got := strings.Join(owed(inc), " ")
	want := "AssetOwner/owner@example.org@0 SystemOwner/sysowner@example.org@0 Supplier/help@acme.example@0 Supplier/mi-manager@example.org@0"
	if got != want {
		t.Errorf("owed\n %s\nwant\n %s", got, want)
	}
	c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionAssetsFound)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "ghost") || len(filter(out.Events, "AssetNotFound")) != 1 {
		t.Errorf("AssetsFound = %+v, events %+v", c, out.Events)
	}
}

func TestMajorIncidentTellsItsOwnReceiversOnce(t *testing.T) {
	policy := escalatingPolicy()
	policy.Spec.Major = &securityv1alpha1.Major{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "director"}}}
	inc := routedIncident("desk")
	inc.Spec.Impact.ServiceAffecting = true
	out := advance(inc, routed, policy)
	if !meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionMajor) || len(filter(out.Events, "MajorIncident")) != 1 {
		t.Fatalf("Major not set: %+v", inc.Status.Conditions)
	}
	if got := strings.Join(owed(inc), " "); !strings.Contains(got, "director@0+Major") {
		t.Errorf("owed %s, want the director told", got)
	}
	n := len(inc.Status.Notifications)
	advance(inc, routed.Add(time.Minute), policy)
	if len(inc.Status.Notifications) != n {
		t.Errorf("major notice owed twice")
	}

	policy.Spec.Major.ServiceAffecting = ptr.To(false)
	inc = routedIncident("desk")
	inc.Spec.Impact.ServiceAffecting = true
	advance(inc, routed, policy)
	if meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionMajor) {
		t.Error("service-affecting made the incident major although the policy says it does not")
	}
}

// An incident that never was major carries no Major condition; one that
// was and no longer is says so.
func TestMajorConditionOnlyOnceItSaysSomething(t *testing.T) {
	policy := escalatingPolicy()
	inc := routedIncident("desk")
	advance(inc, routed, policy)
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionMajor); c != nil {
		t.Fatalf("an incident that never was major says %+v", c)
	}
	inc.Spec.Impact.ServiceAffecting = true
	advance(inc, routed.Add(time.Minute), policy)
	if !meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionMajor) {
		t.Fatalf("Major not set: %+v", inc.Status.Conditions)
	}
	inc.Spec.Impact.ServiceAffecting = false
	advance(inc, routed.Add(2*time.Minute), policy)
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionMajor); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("an incident no longer major says %+v, want Major=False", c)
	}
}
