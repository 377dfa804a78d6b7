package reportrun

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/report"
)

var slot = time.Date(2026, time.March, 9, 9, 0, 0, 0, time.UTC)

func hook(name string) securityv1alpha1.Receiver {
	return securityv1alpha1.Receiver{Name: name, Webhook: &securityv1alpha1.WebhookReceiver{
		URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hooks", Key: name},
	}}
}

func mailTo(name string) securityv1alpha1.Receiver {
	return securityv1alpha1.Receiver{Name: name, Email: &securityv1alpha1.EmailReceiver{To: []string{name + "@council.example"}}}
}

func newReport(mutate ...func(*securityv1alpha1.IncidentReportSpec)) *securityv1alpha1.IncidentReport {
	r := &securityv1alpha1.IncidentReport{
		ObjectMeta: metav1.ObjectMeta{Namespace: "desk", Name: "weekly", UID: "0f6c-report"},
		Spec: securityv1alpha1.IncidentReportSpec{
			Report: securityv1alpha1.ReportControlDocument, Schedule: "0 9 * * 1", TimeZone: "Europe/London",
			Receivers: []securityv1alpha1.Receiver{hook("records"), mailTo("manager"), mailTo("deputy")},
		},
	}
	for _, m := range mutate {
		m(&r.Spec)
	}
	return r
}

func withReview(within time.Duration, escalate ...string) func(*securityv1alpha1.IncidentReportSpec) {
	return func(s *securityv1alpha1.IncidentReportSpec) {
		s.ReviewWithin = securityv1alpha1.NewDuration(within)
		s.ReviewEscalation = escalate
	}
}

func invalid(raw string) *securityv1alpha1.Duration {
	var d securityv1alpha1.Duration
	if err := d.UnmarshalJSON([]byte(`"` + raw + `"`)); err != nil {
		panic(err)
	}
	return &d
}

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		mutate func(*securityv1alpha1.IncidentReportSpec)
		noMail bool
		// want is each problem's field and reason.
		want []string
	}{
		"a good report": {mutate: func(*securityv1alpha1.IncidentReportSpec) {}},
		"a bad schedule and a bad zone, both named": {
			mutate: func(s *securityv1alpha1.IncidentReportSpec) { s.Schedule = "61 * * * *" },
			want:   []string{"spec.schedule InvalidSchedule"},
		},
		"an unknown zone": {
			mutate: func(s *securityv1alpha1.IncidentReportSpec) { s.TimeZone = "Europe/Atlantis" },
			want:   []string{"spec.timeZone InvalidTimeZone"},
		},
		"durations stored before the schema refused them": {
			mutate: func(s *securityv1alpha1.IncidentReportSpec) {
				s.Period = invalid("7d")
				s.ReviewWithin = securityv1alpha1.NewDuration(10 * 8760 * time.Hour)
			},
			want: []string{"spec.period InvalidDuration", "spec.reviewWithin InvalidDuration"},
		},
		"a chat receiver and a summary as CSV": {
			mutate: func(s *securityv1alpha1.IncidentReportSpec) {
				s.Report, s.Format = securityv1alpha1.ReportSummary, securityv1alpha1.ReportCSV
				s.Receivers = append(s.Receivers, securityv1alpha1.Receiver{Name: "chat", Slack: &securityv1alpha1.ChatReceiver{}})
			},
			want: []string{"spec.format InvalidFormat", "spec.receivers[3] InvalidReceiver"},
		},
		"e-mail without an SMTP server": {
			mutate: func(*securityv1alpha1.IncidentReportSpec) {},
			noMail: true,
			want:   []string{"spec.receivers[1].email ChannelNotConfigured", "spec.receivers[2].email ChannelNotConfigured"},
		},
		"an escalation receiver that does not exist, and none without review": {
			mutate: func(s *securityv1alpha1.IncidentReportSpec) { s.ReviewEscalation = []string{"director"} },
			want:   []string{"spec.reviewEscalation[0] InvalidReceiver", "spec.reviewEscalation InvalidReceiver"},
		},
		"nobody gets the document": {
			mutate: withReview(time.Hour, "records", "manager", "deputy"),
			want:   []string{"spec.receivers InvalidReceiver"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			problems := Check(newReport(tc.mutate), !tc.noMail)
			var got []string
			for _, p := range problems {
				got = append(got, p.Field+" "+p.Reason)
				if p.Message == "" {
					t.Errorf("%s has no message", p.Field)
				}
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewRun(t *testing.T) {
	report := newReport(withReview(48*time.Hour, "deputy"))
	run := NewRun(report, slot, slot.AddDate(0, 0, -7))
	if run.ID != "2026-03-09T09:00:00Z" || !run.To.Time.Equal(slot) || run.Format != securityv1alpha1.ReportXLSX {
		t.Errorf("run %s to %s as %s", run.ID, run.To, run.Format)
	}
	var receivers []string
	keys := map[string]bool{}
	for _, d := range run.Deliveries {
		receivers = append(receivers, d.Receiver+"/"+d.Channel)
		if d.State != securityv1alpha1.DeliveryPending || d.Key != Key("0f6c-report", run.ID, d.Receiver) || keys[d.Key] {
			t.Errorf("delivery %+v: want pending under its own key", d)
		}
		keys[d.Key] = true
	}
	if strings.Join(receivers, ",") != "records/webhook,manager/email" {
		t.Errorf("the document goes to %v; want every receiver but the deputy, who is only told of overdue reviews", receivers)
	}
	if run.ReviewDueAt == nil || !run.ReviewDueAt.Time.Equal(slot.Add(48*time.Hour)) {
		t.Errorf("review due %v, want 48h after the slot", run.ReviewDueAt)
	}
	if again := NewRun(report, slot, slot.AddDate(0, 0, -7)); again.Deliveries[0].Key != run.Deliveries[0].Key {
		t.Error("the same run, made again after a restart, has another key")
	}
	if other := NewRun(report, slot.AddDate(0, 0, 7), slot); other.Deliveries[0].Key == run.Deliveries[0].Key {
		t.Error("two runs share a key")
	}
	if ReviewKey("0f6c-report", run.ID, "records") == Key("0f6c-report", run.ID, "records") {
		t.Error("a review notice shares the document's key")
	}
	if FormatOf(&newReport(func(s *securityv1alpha1.IncidentReportSpec) { s.Report = securityv1alpha1.ReportSummary }).Spec) != securityv1alpha1.ReportMarkdown {
		t.Error("the summary's default format is not Markdown")
	}
}

func TestAppendKeepsTheNewestAndNeverTwice(t *testing.T) {
	report := newReport()
	var runs []securityv1alpha1.ReportRun
	for i := range 20 {
		at := slot.AddDate(0, 0, 7*i)
		runs = Append(runs, NewRun(report, at, at.AddDate(0, 0, -7)))
		runs = Append(runs, NewRun(report, at, at.AddDate(0, 0, -7)))
	}
	if len(runs) != securityv1alpha1.MaxReportRuns || runs[len(runs)-1].ID != slot.AddDate(0, 0, 7*19).Format(time.RFC3339) ||
		runs[0].ID != slot.AddDate(0, 0, 7*8).Format(time.RFC3339) {
		t.Errorf("kept %d runs from %s to %s; want the newest 12", len(runs), runs[0].ID, runs[len(runs)-1].ID)
	}
}

// A failing delivery is due again only once its backoff has passed, is
// given up after the attempts a policy would allow, or at once when the
// failure is permanent; a delivered one is never due again.
func TestDeliveriesRetryAndGiveUp(t *testing.T) {
	backoff := delivery.Backoff{Initial: time.Second, Max: time.Minute}
	report := newReport(withReview(time.Hour, "deputy"))
	runs := []securityv1alpha1.ReportRun{NewRun(report, slot, slot.AddDate(0, 0, -7))}
	now := slot
	if due := Due(runs, now); len(due) != 2 {
		t.Fatalf("%d deliveries due at first, want 2", len(due))
	}
	records, manager := &runs[0].Deliveries[0], &runs[0].Deliveries[1]
	Delivered(manager, now, "abc")
	if Failed(records, delivery.Failure{Error: "receiver answered 503"}, now, backoff) {
		t.Fatal("a first 503 was given up")
	}
	if due := Due(runs, now); len(due) != 0 {
		t.Errorf("due before the backoff passed: %+v", due)
	}
	if wait := NextRetry(runs, now); wait != time.Second {
		t.Errorf("next retry in %s, want 1s", wait)
	}
	if !Unsettled(&runs[0]) {
		t.Error("a run with a retry owed is settled")
	}
	attempts := 1
	for ; !delivery.Settled(&records.DeliveryAttempt); attempts++ {
		now = now.Add(time.Hour)
		if due := Due(runs, now); len(due) != 1 || due[0].Delivery != records || due[0].Run != &runs[0] {
			t.Fatalf("attempt %d: due %+v, want the failing delivery", attempts+1, due)
		}
		Failed(records, delivery.Failure{Error: "receiver answered 503"}, now, backoff)
	}
	if attempts != securityv1alpha1.DefaultMaxAttempts || records.State != securityv1alpha1.DeliveryAbandoned {
		t.Errorf("given up after %d attempts in state %s, want %d", attempts, records.State, securityv1alpha1.DefaultMaxAttempts)
	}
	if manager.SHA256 != "abc" || manager.Attempts != 1 || Unsettled(&runs[0]) {
		t.Errorf("manager %+v; the run should be settled", manager)
	}

	permanent := NewRun(report, slot, slot)
	if !Failed(&permanent.Deliveries[0], delivery.Failure{Error: "receiver answered 410", Permanent: true}, slot, backoff) ||
		permanent.Deliveries[0].Attempts != 1 {
		t.Errorf("a permanent failure was not given up at once: %+v", permanent.Deliveries[0])
	}
}

func attested(user string) *securityv1alpha1.Attestation {
	return &securityv1alpha1.Attestation{Username: user, Groups: []string{"system:authenticated"}}
}

func TestApplySignOffs(t *testing.T) {
	tests := map[string]struct {
		signOffs  []securityv1alpha1.ReportSignOff
		signed    string
		untrusted []string
	}{
		"a run kept, attested": {
			signOffs: []securityv1alpha1.ReportSignOff{{Run: "2026-03-09T09:00:00Z", By: attested("mia")}},
			signed:   "mia",
		},
		"a run never made": {
			signOffs:  []securityv1alpha1.ReportSignOff{{Run: "2026-03-16T09:00:00Z", By: attested("mia")}},
			untrusted: []string{"spec.signOffs[run=2026-03-16T09:00:00Z]: names no run"},
		},
		"a run older than every run kept is history": {
			signOffs: []securityv1alpha1.ReportSignOff{{Run: "2025-01-06T09:00:00Z", By: attested("mia")}},
		},
		"no attestation": {
			signOffs:  []securityv1alpha1.ReportSignOff{{Run: "2026-03-09T09:00:00Z"}},
			untrusted: []string{"spec.signOffs[run=2026-03-09T09:00:00Z]: was not attested"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			report := newReport(withReview(24 * time.Hour))
			report.Status.Runs = []securityv1alpha1.ReportRun{NewRun(report, slot, slot.AddDate(0, 0, -7))}
			report.Spec.SignOffs = tc.signOffs
			got := ApplySignOffs(report, slot.Add(time.Hour))
			run := report.Status.Runs[0]
			signed := ""
			if run.SignedOffBy != nil {
				signed = run.SignedOffBy.Username
				if run.SignedOffAt == nil || !run.SignedOffAt.Time.Equal(slot.Add(time.Hour)) || len(got.New) != 1 {
					t.Errorf("signed off at %v, new %d", run.SignedOffAt, len(got.New))
				}
			}
			if signed != tc.signed {
				t.Errorf("signed off by %q, want %q", signed, tc.signed)
			}
			if len(got.Untrusted) != len(tc.untrusted) {
				t.Fatalf("untrusted %q, want %q", got.Untrusted, tc.untrusted)
			}
			for i, want := range tc.untrusted {
				if !strings.HasPrefix(got.Untrusted[i], want) {
					t.Errorf("untrusted %q, want %q…", got.Untrusted[i], want)
				}
			}
			// Seen again later, a sign-off keeps the time it was first seen.
			if again := ApplySignOffs(report, slot.Add(5*time.Hour)); len(again.New) != 0 {
				t.Errorf("the same sign-off counted twice")
			}
		})
	}
}

func TestEscalateOverdueReviewsOnce(t *testing.T) {
	report := newReport(withReview(24*time.Hour, "deputy"))
	report.Status.Runs = []securityv1alpha1.ReportRun{
		NewRun(report, slot, slot.AddDate(0, 0, -7)),
		NewRun(report, slot.AddDate(0, 0, 7), slot),
	}
	report.Status.Runs[1].SignedOffBy = attested("mia")
	if next := NextReviewDue(report.Status.Runs, slot); !next.Equal(slot.Add(24 * time.Hour)) {
		t.Errorf("next review due %s, want the unsigned run's", next)
	}
	if overdue := EscalateOverdueReviews(report, slot.Add(23*time.Hour)); len(overdue) != 0 {
		t.Errorf("escalated before the due time: %+v", overdue)
	}
	overdue := EscalateOverdueReviews(report, slot.Add(24*time.Hour))
	if len(overdue) != 1 || overdue[0].ID != report.Status.Runs[0].ID {
		t.Fatalf("overdue %+v, want the first run only", overdue)
	}
	run := &report.Status.Runs[0]
	if len(run.ReviewEscalations) != 1 || run.ReviewEscalations[0].Receiver != "deputy" || run.ReviewEscalations[0].Channel != "email" ||
		run.ReviewEscalations[0].Key != ReviewKey("0f6c-report", run.ID, "deputy") || run.ReviewEscalatedAt == nil {
		t.Errorf("escalations %+v", run.ReviewEscalations)
	}
	if again := EscalateOverdueReviews(report, slot.Add(48*time.Hour)); len(again) != 0 || len(run.ReviewEscalations) != 1 {
		t.Errorf("escalated twice: %+v", run.ReviewEscalations)
	}
	if due := Due(report.Status.Runs, slot.Add(48*time.Hour)); len(due) != 5 || !due[2].Review {
		t.Errorf("due %d (the notice among them: %v); want the four documents and the notice", len(due), len(due) > 2 && due[2].Review)
	}
	if next := NextReviewDue(report.Status.Runs, slot.Add(48*time.Hour)); !next.IsZero() {
		t.Errorf("a review is still awaited at %s", next)
	}
}

func TestReadyAndReviewed(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	next := slot.AddDate(0, 0, 7)
	tests := map[string]struct {
		runs     func(*securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun
		suspend  bool
		progress delivery.Progress
		reason   string
		reviewed string
	}{
		"no run yet": {
			runs:     func(*securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun { return nil },
			progress: delivery.Done, reason: securityv1alpha1.ReasonSucceeded,
		},
		"suspended": {
			runs:     func(*securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun { return nil },
			suspend:  true,
			progress: delivery.Done, reason: securityv1alpha1.ReasonSucceeded,
		},
		"being delivered": {
			runs: func(r *securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun {
				return []securityv1alpha1.ReportRun{NewRun(r, slot, slot)}
			},
			progress: delivery.Working, reason: securityv1alpha1.ReasonDelivering, reviewed: securityv1alpha1.ReasonAwaitingSignOff,
		},
		"failing": {
			runs: func(r *securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun {
				run := NewRun(r, slot, slot)
				Failed(&run.Deliveries[0], delivery.Failure{Error: "receiver answered 503"}, slot, delivery.DefaultBackoff)
				return []securityv1alpha1.ReportRun{run}
			},
			progress: delivery.Working, reason: securityv1alpha1.ReasonNotificationFailed, reviewed: securityv1alpha1.ReasonAwaitingSignOff,
		},
		"given up on in the latest run": {
			runs: func(r *securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun {
				run := NewRun(r, slot, slot)
				Failed(&run.Deliveries[0], delivery.Failure{Error: "receiver answered 410", Permanent: true}, slot, delivery.DefaultBackoff)
				Delivered(&run.Deliveries[1], slot, "abc")
				run.ReviewEscalatedAt = &metav1.Time{Time: slot}
				return []securityv1alpha1.ReportRun{run}
			},
			progress: delivery.GaveUp, reason: securityv1alpha1.ReasonDeliveryAbandoned, reviewed: securityv1alpha1.ReasonReviewOverdue,
		},
		"given up on before, delivered since": {
			runs: func(r *securityv1alpha1.IncidentReport) []securityv1alpha1.ReportRun {
				old, latest := NewRun(r, slot, slot), NewRun(r, next, slot)
				Failed(&old.Deliveries[0], delivery.Failure{Error: "receiver answered 410", Permanent: true}, slot, delivery.DefaultBackoff)
				Delivered(&old.Deliveries[1], slot, "abc")
				for i := range latest.Deliveries {
					Delivered(&latest.Deliveries[i], next, "def")
				}
				latest.SignedOffBy = attested("mia")
				return []securityv1alpha1.ReportRun{old, latest}
			},
			progress: delivery.Done, reason: securityv1alpha1.ReasonSucceeded, reviewed: securityv1alpha1.ReasonSignedOff,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			report := newReport(withReview(24*time.Hour, "deputy"))
			report.Spec.Suspend = tc.suspend
			report.Status.Runs = tc.runs(report)
			wake := next
			if tc.suspend {
				wake = time.Time{}
			}
			c, progress := Ready(report, wake, london)
			if progress != tc.progress || c.Reason != tc.reason || c.Message == "" {
				t.Errorf("Ready = %v %s %q, want progress %v, %s", progress, c.Reason, c.Message, tc.progress, tc.reason)
			}
			if tc.suspend && !strings.HasPrefix(c.Message, "suspended") {
				t.Errorf("Ready says %q for a suspended report", c.Message)
			}
			if tc.progress == delivery.Done && !tc.suspend && !strings.Contains(c.Message, "2026-03-16 09:00 GMT") {
				t.Errorf("Ready says %q; want the next run in the report's zone", c.Message)
			}
			reviewed, ok := Reviewed(report, london)
			if ok != (tc.reviewed != "") || reviewed.Reason != tc.reviewed {
				t.Errorf("Reviewed = %v %+v, want %q", ok, reviewed, tc.reviewed)
			}
		})
	}
}

func incident(ns, name string, reported time.Time) securityv1alpha1.Incident {
	return securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(reported)},
		Spec: securityv1alpha1.IncidentSpec{
			Title: "Incident " + name, Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh,
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Priya Shah"}},
		},
	}
}

func csvRecords(t *testing.T, content string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(content)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// breach is an incident involving personal data; its UID is its name, so
// that only the namespace tells it from another tenant's of the same name.
func breach(ns, name string, reported time.Time) securityv1alpha1.Incident {
	inc := incident(ns, name, reported)
	inc.Spec.Impact.PersonalData = true
	inc.UID = types.UID(name)
	return inc
}

// notificationDecided is the UK GDPR notification of an incident, decided
// required by decider.
func notificationDecided(ns, incident, decider string) securityv1alpha1.Filing {
	return securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: securityv1alpha1.FilingName(incident, "uk-gdpr", "notification"),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: securityv1alpha1.GroupVersion.String(), Kind: "Incident", Name: incident, UID: types.UID(incident)}},
		},
		Spec: securityv1alpha1.FilingSpec{
			Incident: incident, Regime: "uk-gdpr", Stage: "notification", Citation: report.NotificationCitation, AgreementsRequired: 1,
			Decision: &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: &securityv1alpha1.Attestation{Username: decider}},
		},
	}
}

// A document holds the incidents of the report's namespace reported in the
// run's period, or for the breach register its every breach, whatever else
// it is handed.
func TestMake(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	incidents := []securityv1alpha1.Incident{
		breach("desk", "in-the-week", slot.Add(-48*time.Hour)),
		incident("desk", "at-the-start", slot.AddDate(0, 0, -7)),
		breach("desk", "before-the-week", slot.AddDate(0, 0, -7).Add(-time.Minute)),
		incident("desk", "at-the-end", slot),
		breach("other-tenant", "theirs", slot.Add(-time.Hour)),
	}
	filings := []securityv1alpha1.Filing{
		notificationDecided("desk", "in-the-week", "desk-dpo"),
		// Another tenant's Filing for an incident of the same name.
		notificationDecided("other-tenant", "before-the-week", "their-dpo"),
	}
	tests := map[string]struct {
		kind   securityv1alpha1.ReportKind
		format securityv1alpha1.ReportFormat
		check  func(t *testing.T, content string)
	}{
		"control document as CSV": {
			kind: securityv1alpha1.ReportControlDocument, format: securityv1alpha1.ReportCSV,
			check: func(t *testing.T, content string) {
				rows := csvRecords(t, content)
				var names []string
				for _, r := range rows[1:] {
					names = append(names, r[0]+"/"+r[1])
				}
				if strings.Join(names, ",") != "desk/at-the-start,desk/in-the-week" {
					t.Errorf("rows %v, want the two incidents of desk reported in [from, to)", names)
				}
			},
		},
		"breach register as CSV, whatever the period": {
			kind: securityv1alpha1.ReportBreachRegister, format: securityv1alpha1.ReportCSV,
			check: func(t *testing.T, content string) {
				rows := csvRecords(t, content)
				decidedBy := slices.Index(rows[0], "Art. 33 decided by")
				var got []string
				for _, r := range rows[1:] {
					got = append(got, r[0]+"/"+r[1]+" decided by "+r[decidedBy])
				}
				if want := "desk/before-the-week decided by ,desk/in-the-week decided by desk-dpo"; strings.Join(got, ",") != want {
					t.Errorf("rows %v, want %s: the breaches of desk, each with its own Filing", got, want)
				}
			},
		},
		"summary as Markdown": {
			kind: securityv1alpha1.ReportSummary, format: securityv1alpha1.ReportMarkdown,
			check: func(t *testing.T, content string) {
				if !strings.HasPrefix(content, "# Information security incidents reported from 2026-03-02 09:00 to 2026-03-09 09:00") ||
					strings.Contains(content, "other-tenant") || !strings.Contains(content, "| Reported | 2 |") {
					t.Errorf("summary:\n%s", content)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			report := newReport(func(s *securityv1alpha1.IncidentReportSpec) { s.Report, s.Format = tc.kind, tc.format })
			run := NewRun(report, slot, slot.AddDate(0, 0, -7))
			doc, count, err := Make(Input{Report: report, Run: &run, Incidents: incidents, Filings: filings, Location: london, Now: slot.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if count != 2 {
				t.Errorf("%d incidents counted, want 2", count)
			}
			if want := "weekly-2026-03-09-0900." + map[securityv1alpha1.ReportFormat]string{"CSV": "csv", "Markdown": "md"}[tc.format]; doc.Filename != want {
				t.Errorf("filename %s, want %s", doc.Filename, want)
			}
			tc.check(t, string(doc.Content))
			Record(&run, doc, count, slot.Add(time.Minute))
			if run.SHA256 != doc.SHA256 || run.Size != int64(len(doc.Content)) || run.Incidents != 2 || run.Filename != doc.Filename {
				t.Errorf("recorded %+v", run)
			}
			again, _, _ := Make(Input{Report: report, Run: &run, Incidents: incidents, Filings: filings, Location: london, Now: slot.Add(time.Minute)})
			if !bytes.Equal(again.Content, doc.Content) {
				t.Error("the same incidents made another document")
			}
		})
	}
}

// A run's document takes the incidents retention archived and removed
// from the cluster: of its namespace only, and each once when the cluster
// still holds it. The register takes every archived breach; the other
// documents those of the run's period.
func TestMakeTakesArchivedIncidents(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	live := []securityv1alpha1.Incident{breach("desk", "in-the-week", slot.Add(-48*time.Hour))}
	archived := []securityv1alpha1.Incident{
		breach("desk", "archived-in-the-week", slot.Add(-72*time.Hour)),
		// Archived, but not yet removed from the cluster.
		breach("desk", "in-the-week", slot.Add(-48*time.Hour)),
		breach("other-tenant", "theirs", slot.Add(-time.Hour)),
	}
	report := newReport(func(s *securityv1alpha1.IncidentReportSpec) { s.Format = securityv1alpha1.ReportCSV })
	run := NewRun(report, slot, slot.AddDate(0, 0, -7))
	doc, count, err := Make(Input{Report: report, Run: &run, Incidents: live, Archived: archived, Location: london, Now: slot.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range csvRecords(t, string(doc.Content))[1:] {
		names = append(names, r[0]+"/"+r[1])
	}
	if want := "desk/archived-in-the-week,desk/in-the-week"; strings.Join(names, ",") != want || count != 2 {
		t.Errorf("rows %v (%d counted), want %s", names, count, want)
	}

	if from, to := ArchivedPeriod(&report.Spec, &run); !from.Equal(run.From.Time) || !to.Equal(run.To.Time) {
		t.Errorf("the control document reads the archived incidents of %s to %s, want the run's period", from, to)
	}
	register := newReport(func(s *securityv1alpha1.IncidentReportSpec) { s.Report = securityv1alpha1.ReportBreachRegister })
	if from, to := ArchivedPeriod(&register.Spec, &run); !from.IsZero() || !to.IsZero() {
		t.Errorf("the breach register reads the archived incidents of %s to %s, want every one", from, to)
	}
}
