package controllers_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/xuri/excelize/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/sink"
)

// documentReceiver is a loopback webhook that keeps every report message
// it is sent; answer, when set, gives the status of the nth request (from
// 1), 0 meaning 202.
type documentReceiver struct {
	*httptest.Server
	answer func(n int) int

	mu       sync.Mutex
	requests []documentRequest
}

type documentRequest struct {
	header http.Header
	raw    []byte
	msg    notify.Message
}

func newDocumentReceiver(t *testing.T, answer func(n int) int) *documentReceiver {
	r := &documentReceiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var msg notify.Message
		if err := json.Unmarshal(raw, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests = append(r.requests, documentRequest{header: req.Header.Clone(), raw: raw, msg: msg})
		n := len(r.requests)
		r.mu.Unlock()
		if r.answer != nil {
			if code := r.answer(n); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *documentReceiver) received() []documentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// weeklySlot is a weekly schedule at 09:00 UTC and its next slot, at least
// two days after the operator's time, so that no slot passes between the
// report's creation (real time) and the operator's time (moved forward by
// earlier tests) before the test moves the clock itself.
func weeklySlot() (string, time.Time) {
	base := operatorClock.Now().UTC().Add(48 * time.Hour)
	slot := time.Date(base.Year(), base.Month(), base.Day(), 9, 0, 0, 0, time.UTC)
	if slot.Before(base) {
		slot = slot.Add(24 * time.Hour)
	}
	return fmt.Sprintf("0 9 * * %d", int(slot.Weekday())), slot
}

// moveClockTo moves the operator's time to at, and back when the test
// ends, so that later tests do not start days ahead.
func moveClockTo(t *testing.T, at time.Time) {
	t.Helper()
	d := at.Sub(operatorClock.Now())
	operatorClock.advance(d)
	t.Cleanup(func() { operatorClock.advance(-d) })
}

// nudgeReport makes the operator look at a report after the test moved
// the clock: a real schedule would have woken it by itself.
func nudgeReport(t *testing.T, r *securityv1alpha1.IncidentReport) {
	t.Helper()
	update(t, r, func(r *securityv1alpha1.IncidentReport) {
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations["test.incidentops.io/nudge"] = strconv.FormatInt(time.Now().UnixNano(), 10)
	})
}

// createReport creates a report and deletes it when the test ends, so that
// it does not run later against servers that are gone.
func createReport(t *testing.T, r *securityv1alpha1.IncidentReport) {
	t.Helper()
	create(t, r)
	t.Cleanup(func() { _ = k8sClient.Delete(t.Context(), r) })
}

// firstRun creates a report whose schedule's next slot is slot, checks that
// it waits for it, moves the operator's time just past it, and waits
// until check holds for the slot's run.
func firstRun(t *testing.T, report *securityv1alpha1.IncidentReport, slot time.Time, check func(*securityv1alpha1.ReportRun) error) *securityv1alpha1.ReportRun {
	t.Helper()
	createReport(t, report)
	ready := waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if next := report.Status.NextScheduleTime; next == nil || !next.Equal(&metav1.Time{Time: slot}) || len(report.Status.Runs) != 0 {
		t.Fatalf("before its time: next run %v and %d runs (%s); want %s and none", next, len(report.Status.Runs), ready.Message, slot)
	}
	moveClockTo(t, slot.Add(time.Minute))
	nudgeReport(t, report)
	return waitForRun(t, report, slot.Format(time.RFC3339), check)
}

func reportConditions(r *securityv1alpha1.IncidentReport) func() []metav1.Condition {
	return func() []metav1.Condition { return r.Status.Conditions }
}

func getReport(t *testing.T, ns, name string) *securityv1alpha1.IncidentReport {
	t.Helper()
	r := &securityv1alpha1.IncidentReport{}
	if err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitForRun waits until the report has run id and check holds for it.
func waitForRun(t *testing.T, r *securityv1alpha1.IncidentReport, id string, check func(*securityv1alpha1.ReportRun) error) *securityv1alpha1.ReportRun {
	t.Helper()
	var found *securityv1alpha1.ReportRun
	eventually(t, 20*time.Second, func() error {
		latest := getReport(t, r.Namespace, r.Name)
		for i := range latest.Status.Runs {
			if run := &latest.Status.Runs[i]; run.ID == id {
				found = run
				return check(run)
			}
		}
		var ids []string
		for _, run := range latest.Status.Runs {
			ids = append(ids, run.ID)
		}
		return fmt.Errorf("no run %s yet; runs %v", id, ids)
	})
	return found
}

// allDelivered is a check that every document delivery of a run is made.
func allDelivered(run *securityv1alpha1.ReportRun) error {
	for _, d := range run.Deliveries {
		if d.State != securityv1alpha1.DeliveryDelivered {
			return fmt.Errorf("receiver %s: %s after %d attempts (%s)", d.Receiver, d.State, d.Attempts, d.LastError)
		}
	}
	return nil
}

func deliveryTo(run *securityv1alpha1.ReportRun, receiver string) *securityv1alpha1.ReportDelivery {
	for i := range run.Deliveries {
		if run.Deliveries[i].Receiver == receiver {
			return &run.Deliveries[i]
		}
	}
	return nil
}

func hookReceiver(name, secret string) securityv1alpha1.Receiver {
	return securityv1alpha1.Receiver{Name: name, Webhook: &securityv1alpha1.WebhookReceiver{
		URLSecretRef: securityv1alpha1.SecretKeyReference{Name: secret, Key: "url"},
	}}
}

func controlDocumentReport(ns, name, schedule string, receivers ...securityv1alpha1.Receiver) *securityv1alpha1.IncidentReport {
	return &securityv1alpha1.IncidentReport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.IncidentReportSpec{
			Report: securityv1alpha1.ReportControlDocument, Schedule: schedule, TimeZone: "UTC", Receivers: receivers,
		},
	}
}

// attachment is the one attachment of a mail, with its file name.
func attachment(t *testing.T, raw []byte) (string, []byte) {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("reading the mail: %v", err)
	}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			t.Fatal("the mail has no attachment")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := p.Header.(*mail.AttachmentHeader); ok {
			name, _ := h.Filename()
			body, err := io.ReadAll(p.Body)
			if err != nil {
				t.Fatal(err)
			}
			return name, body
		}
	}
}

func reportMailsTo(address string) []sink.Mail {
	var out []sink.Mail
	for _, m := range mailbox.Mails() {
		if slices.Contains(m.To, address) {
			out = append(out, m)
		}
	}
	return out
}

// verifySignature checks a webhook's X-Incidentops-Signature over its body.
func verifySignature(t *testing.T, key string, req documentRequest) {
	t.Helper()
	header := req.header.Get(notify.SignatureHeader)
	ts, _, _ := strings.Cut(strings.TrimPrefix(header, "t="), ",")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || header != notify.Sign([]byte(key), time.Unix(unix, 0), req.raw) {
		t.Errorf("signature %q does not verify over the body with the receiver's key", header)
	}
}

// A weekly control document runs at its scheduled time and reaches a
// webhook and a mailbox: the same file, whose digest status records. The
// workbook has a row per incident of the report's namespace and none of
// another namespace's, whose incidents fall in the same week.
func TestIncidentReportWeeklyControlDocumentReachesWebhookAndMail(t *testing.T) {
	ns, other := newNamespace(t), newNamespace(t)
	ours := []string{"lost-laptop", "phish", "letter-to-wrong-address"}
	for _, name := range ours {
		create(t, newIncident(ns, name, securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	}
	for _, name := range []string{"theirs-one", "theirs-two"} {
		create(t, newIncident(other, name, securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityLow))
	}
	hook := newDocumentReceiver(t, nil)
	create(t, secretWithData(ns, "records", map[string]string{"url": hook.URL + "/records", "signing": "records-signing-key"}))
	manager := "mi-manager@" + ns + ".council.example"
	schedule, slot := weeklySlot()
	records := hookReceiver("records", "records")
	records.Webhook.SigningSecretRef = &securityv1alpha1.SecretKeyReference{Name: "records", Key: "signing"}
	report := controlDocumentReport(ns, "weekly-control", schedule, records,
		securityv1alpha1.Receiver{Name: "mi-manager", Email: &securityv1alpha1.EmailReceiver{To: []string{manager}}})
	run := firstRun(t, report, slot, allDelivered)
	id := run.ID
	if !run.To.Equal(&metav1.Time{Time: slot}) || !run.From.Equal(&metav1.Time{Time: slot.AddDate(0, 0, -7)}) {
		t.Errorf("run covers [%s, %s), want the week ending at %s", run.From, run.To, slot)
	}
	if run.Incidents != int32(len(ours)) || run.Format != securityv1alpha1.ReportXLSX || run.Size == 0 {
		t.Errorf("run: %d incidents as %s of %d bytes; want %d as XLSX", run.Incidents, run.Format, run.Size, len(ours))
	}

	// The webhook: one signed POST under the delivery's key, the file in
	// base64 with its digest.
	got := hook.received()
	if len(got) != 1 {
		t.Fatalf("the webhook received %d requests, want 1", len(got))
	}
	req := got[0]
	verifySignature(t, "records-signing-key", req)
	if key := req.header.Get(notify.IdempotencyKeyHeader); key == "" || key != deliveryTo(run, "records").Key {
		t.Errorf("Idempotency-Key %q, want the delivery's key %q", key, deliveryTo(run, "records").Key)
	}
	msg := req.msg
	if msg.Document == nil {
		t.Fatalf("the webhook got no document: %s", req.raw)
	}
	sum := sha256.Sum256(msg.Content)
	if msg.Report != "weekly-control" || msg.Namespace != ns || msg.Run != id || msg.Format != "XLSX" ||
		msg.Filename != run.Filename || hex.EncodeToString(sum[:]) != msg.SHA256 || msg.SHA256 != run.SHA256 ||
		deliveryTo(run, "records").SHA256 != run.SHA256 || !strings.HasPrefix(msg.ContentType, "application/vnd.openxmlformats") {
		t.Errorf("webhook message %+v does not match run %+v", msg, run)
	}

	// The workbook: a row per incident of the namespace, none of the other.
	book, err := excelize.OpenReader(bytes.NewReader(msg.Content))
	if err != nil {
		t.Fatalf("the document is not a workbook: %v", err)
	}
	rows, err := book.GetRows("Control document")
	if err != nil || len(rows) == 0 {
		t.Fatalf("reading the sheet: %v", err)
	}
	nsCol, nameCol := slices.Index(rows[0], "Namespace"), slices.Index(rows[0], "Name")
	var names []string
	for _, row := range rows[1:] {
		if row[nsCol] != ns {
			t.Errorf("a row of namespace %s: %v", row[nsCol], row)
		}
		names = append(names, row[nameCol])
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(ours))
	if !slices.Equal(names, want) {
		t.Errorf("rows name %v, want %v", names, want)
	}

	// The mail: the same file as an attachment.
	var mails []sink.Mail
	eventually(t, 10*time.Second, func() error {
		if mails = reportMailsTo(manager); len(mails) != 1 {
			return fmt.Errorf("%d mails to %s", len(mails), manager)
		}
		return nil
	})
	name, content := attachment(t, mails[0].Raw)
	if name != run.Filename || !bytes.Equal(content, msg.Content) {
		t.Errorf("the attachment %s (%d bytes) is not the document %s (%d bytes)", name, len(content), run.Filename, len(msg.Content))
	}
	if subject := mails[0].Header.Get("Subject"); !strings.Contains(subject, id) || !strings.Contains(subject, "weekly-control") {
		t.Errorf("subject %q does not name the report and run", subject)
	}
	if !strings.Contains(mails[0].Text, run.SHA256) {
		t.Errorf("the mail's text does not give the document's SHA-256:\n%s", mails[0].Text)
	}
	waitForEvent(t, ns, report.Name, "ReportSent", "Normal")
	waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded)
}

// A webhook that fails is retried with backoff under the same key until it
// takes the document, and status records each attempt; one that refuses
// the document for good (410) is given up at once, told as a Warning, and
// the report says so in Ready=False, Stalled.
func TestIncidentReportRetriesAFailingWebhook(t *testing.T) {
	ns := newNamespace(t)
	create(t, newIncident(ns, "phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityHigh))
	flaky := newDocumentReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	gone := newDocumentReceiver(t, func(int) int { return http.StatusGone })
	create(t, secretWithData(ns, "flaky", map[string]string{"url": flaky.URL}))
	create(t, secretWithData(ns, "gone", map[string]string{"url": gone.URL}))
	schedule, slot := weeklySlot()
	report := controlDocumentReport(ns, "weekly", schedule, hookReceiver("flaky", "flaky"), hookReceiver("gone", "gone"))
	report.Spec.Format = securityv1alpha1.ReportCSV
	run := firstRun(t, report, slot, func(run *securityv1alpha1.ReportRun) error {
		if d := deliveryTo(run, "flaky"); d.State != securityv1alpha1.DeliveryDelivered {
			return fmt.Errorf("flaky: %s after %d attempts", d.State, d.Attempts)
		}
		return nil
	})
	if d := deliveryTo(run, "flaky"); d.Attempts != 3 || d.LastError != "" || d.DeliveredAt == nil {
		t.Errorf("flaky delivery %+v; want delivered at the third attempt", d)
	}
	requests := flaky.received()
	if len(requests) != 3 {
		t.Fatalf("the flaky webhook got %d requests, want 3", len(requests))
	}
	for i, req := range requests {
		if key := req.header.Get(notify.IdempotencyKeyHeader); key != deliveryTo(run, "flaky").Key {
			t.Errorf("attempt %d carried key %q, want %q every time", i+1, key, deliveryTo(run, "flaky").Key)
		}
		if req.msg.SHA256 != run.SHA256 {
			t.Errorf("attempt %d carried document %s, want the run's %s every time", i+1, req.msg.SHA256, run.SHA256)
		}
	}
	failed := waitForEvent(t, ns, report.Name, "ReportDeliveryFailed", "Warning")
	if !strings.Contains(failed.Note, "503") {
		t.Errorf("the failure event %q does not say what the receiver answered", failed.Note)
	}

	if d := deliveryTo(run, "gone"); d.State != securityv1alpha1.DeliveryAbandoned || d.Attempts != 1 || !strings.Contains(d.LastError, "410") {
		t.Errorf("gone delivery %+v; want abandoned after one attempt, naming the 410", d)
	}
	waitForEvent(t, ns, report.Name, "ReportDeliveryAbandoned", "Warning")
	stalled := waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonDeliveryAbandoned)
	if !strings.Contains(stalled.Message, "gone") {
		t.Errorf("Ready says %q; want the receiver named", stalled.Message)
	}
	waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionStalled, metav1.ConditionTrue, securityv1alpha1.ReasonDeliveryAbandoned)
}

// The operator is away for three weeks: when it comes back the report runs
// once, for the latest missed slot, not once per missed slot, and says how
// many it skipped.
func TestIncidentReportRunsOnceAfterMissedSlots(t *testing.T) {
	ns := newNamespace(t)
	hook := newDocumentReceiver(t, nil)
	create(t, secretWithData(ns, "hook", map[string]string{"url": hook.URL}))
	schedule, slot := weeklySlot()
	report := controlDocumentReport(ns, "weekly", schedule, hookReceiver("hook", "hook"))
	first := firstRun(t, report, slot, allDelivered).ID

	operator.stop()
	moveClockTo(t, slot.AddDate(0, 0, 21).Add(2*time.Hour))
	if err := operator.start(); err != nil {
		t.Fatal(err)
	}
	latest := slot.AddDate(0, 0, 21).Format(time.RFC3339)
	run := waitForRun(t, report, latest, allDelivered)
	if want := slot.AddDate(0, 0, 14); !run.From.Equal(&metav1.Time{Time: want}) {
		t.Errorf("the run covers from %s, want the week before its slot (%s)", run.From, want)
	}
	missed := waitForEvent(t, ns, report.Name, "RunsMissed", "Warning")
	if !strings.Contains(missed.Note, "2 earlier runs") || !strings.Contains(missed.Note, latest) {
		t.Errorf("RunsMissed says %q; want the 2 skipped and the run made named", missed.Note)
	}
	// Give a wrong second run time to happen before counting.
	time.Sleep(1500 * time.Millisecond)
	stored := getReport(t, ns, report.Name)
	var ids []string
	for _, r := range stored.Status.Runs {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{first, latest}) {
		t.Errorf("runs %v, want %s and %s only", ids, first, latest)
	}
	if n := len(hook.received()); n != 2 {
		t.Errorf("the webhook got %d documents, want 2: one per run", n)
	}
	if next := stored.Status.NextScheduleTime; next == nil || !next.Equal(&metav1.Time{Time: slot.AddDate(0, 0, 28)}) {
		t.Errorf("next run %v, want %s", next, slot.AddDate(0, 0, 28))
	}
}

// A schedule or time zone the operator cannot read is reported on the
// report, naming the field; what the schema can say is refused at the door.
func TestIncidentReportBadInput(t *testing.T) {
	ns := newNamespace(t)
	create(t, secretWithData(ns, "hook", map[string]string{"url": "http://127.0.0.1:9/"}))
	for name, tc := range map[string]struct {
		schedule, zone string
		reason, field  string
	}{
		"minute-61":    {schedule: "61 * * * *", zone: "UTC", reason: securityv1alpha1.ReasonInvalidSchedule, field: "spec.schedule"},
		"never":        {schedule: "0 0 30 2 *", zone: "UTC", reason: securityv1alpha1.ReasonInvalidSchedule, field: "spec.schedule"},
		"zone-in-cron": {schedule: "CRON_TZ=UTC 0 9 * * 1", zone: "UTC", reason: securityv1alpha1.ReasonInvalidSchedule, field: "spec.schedule"},
		"atlantis":     {schedule: "0 9 * * 1", zone: "Europe/Atlantis", reason: securityv1alpha1.ReasonInvalidTimeZone, field: "spec.timeZone"},
		// Valid, and next due on 29 February 2028: other tests move the
		// operator's clock forward, and a run now would fail its delivery.
		"london": {schedule: "0 9 29 2 *", zone: "Europe/London"},
	} {
		t.Run(name, func(t *testing.T) {
			report := controlDocumentReport(ns, name, tc.schedule, hookReceiver("hook", "hook"))
			report.Spec.TimeZone = tc.zone
			createReport(t, report)
			if tc.reason == "" {
				waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
				waitForKStatus(t, report, status.CurrentStatus)
				return
			}
			c := waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReady, metav1.ConditionFalse, tc.reason)
			if !strings.HasPrefix(c.Message, tc.field+": ") {
				t.Errorf("Ready says %q; want it to name %s", c.Message, tc.field)
			}
			waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionStalled, metav1.ConditionTrue, tc.reason)
			waitForKStatus(t, report, status.FailedStatus)
			if report.Status.ObservedGeneration != report.Generation || report.Status.NextScheduleTime != nil {
				t.Errorf("observedGeneration %d of %d, next run %v; want observed, and no next run", report.Status.ObservedGeneration, report.Generation, report.Status.NextScheduleTime)
			}
		})
	}

	period := func(d string) *securityv1alpha1.Duration {
		var v securityv1alpha1.Duration
		if err := json.Unmarshal([]byte(strconv.Quote(d)), &v); err != nil {
			t.Fatal(err)
		}
		return &v
	}
	for name, tc := range map[string]struct {
		mutate func(*securityv1alpha1.IncidentReportSpec)
		want   string
	}{
		"Local": {func(s *securityv1alpha1.IncidentReportSpec) { s.TimeZone = "Local" }, "spec.timeZone"},
		"a chat receiver": {func(s *securityv1alpha1.IncidentReportSpec) {
			s.Receivers[0] = securityv1alpha1.Receiver{Name: "chat", Slack: &securityv1alpha1.ChatReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"}}}
		}, "spec.receivers"},
		"an unknown escalation": {func(s *securityv1alpha1.IncidentReportSpec) {
			s.ReviewWithin = period("24h")
			s.ReviewEscalation = []string{"deputy"}
		}, "spec.reviewEscalation"},
		"escalation, no review": {func(s *securityv1alpha1.IncidentReportSpec) { s.ReviewEscalation = []string{"hook"} }, "spec.reviewEscalation"},
		"a summary as CSV": {func(s *securityv1alpha1.IncidentReportSpec) {
			s.Report, s.Format = securityv1alpha1.ReportSummary, securityv1alpha1.ReportCSV
		}, "spec.format"},
		"a period of nothing":  {func(s *securityv1alpha1.IncidentReportSpec) { s.Period = period("0s") }, "spec.period"},
		"a period of days":     {func(s *securityv1alpha1.IncidentReportSpec) { s.Period = period("7d") }, "spec.period"},
		"a review in a decade": {func(s *securityv1alpha1.IncidentReportSpec) { s.ReviewWithin = period("87600h") }, "spec.reviewWithin"},
	} {
		report := controlDocumentReport(ns, "refused", "0 9 * * 1", hookReceiver("hook", "hook"))
		tc.mutate(&report.Spec)
		err := k8sClient.Create(t.Context(), report)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want refused naming %s", name, err, tc.want)
		}
		if err == nil {
			_ = k8sClient.Delete(t.Context(), report)
		}
	}
}

// A reviewer signs a run off: the API server writes who, whatever the
// client claimed, and the operator records it on the run. A sign-off
// cannot name a run the report did not make, be changed or removed, and
// a reviewer cannot change where the report goes.
func TestIncidentReportSignOffIsAttested(t *testing.T) {
	ns := newNamespace(t)
	hook := newDocumentReceiver(t, nil)
	create(t, secretWithData(ns, "hook", map[string]string{"url": hook.URL}))
	schedule, slot := weeklySlot()
	report := controlDocumentReport(ns, "weekly", schedule, hookReceiver("hook", "hook"))
	report.Spec.ReviewWithin = securityv1alpha1.NewDuration(48 * time.Hour)
	id := firstRun(t, report, slot, allDelivered).ID
	waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReviewed, metav1.ConditionFalse, securityv1alpha1.ReasonAwaitingSignOff)

	reviewer := holding(t, ns, "mia", "incident-report-reviewer")
	admin := holding(t, ns, "pat", "incident-policy-admin")
	signOff := func(c client.Client, s securityv1alpha1.ReportSignOff) error {
		stored := getReport(t, ns, report.Name)
		changed := stored.DeepCopy()
		changed.Spec.SignOffs = append(changed.Spec.SignOffs, s)
		return c.Patch(t.Context(), changed, client.MergeFrom(stored))
	}

	// A run that does not exist cannot be signed off.
	err := signOff(reviewer, securityv1alpha1.ReportSignOff{Run: slot.AddDate(0, 0, 7).Format(time.RFC3339)})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "names no run") {
		t.Errorf("a sign-off for a run not made: %v", err)
	}

	// Mia signs off, claiming to be someone else.
	if err := signOff(reviewer, securityv1alpha1.ReportSignOff{Run: id, Note: "reviewed with the service desk",
		By: &securityv1alpha1.Attestation{Username: "chief-executive"}}); err != nil {
		t.Fatalf("the reviewer could not sign off: %v", err)
	}
	stored := getReport(t, ns, report.Name)
	if len(stored.Spec.SignOffs) != 1 || stored.Spec.SignOffs[0].By == nil || stored.Spec.SignOffs[0].By.Username != "mia" ||
		stored.Spec.SignOffs[0].Note != "reviewed with the service desk" {
		t.Fatalf("signOffs = %+v, want one by mia with her note", stored.Spec.SignOffs)
	}
	run := waitForRun(t, report, id, func(run *securityv1alpha1.ReportRun) error {
		if run.SignedOffBy == nil || run.SignedOffAt == nil {
			return errors.New("not signed off yet")
		}
		return nil
	})
	if run.SignedOffBy.Username != "mia" {
		t.Errorf("the run is signed off by %s, want mia", run.SignedOffBy.Username)
	}
	waitForCondition(t, report, reportConditions(report), securityv1alpha1.ConditionReviewed, metav1.ConditionTrue, securityv1alpha1.ReasonSignedOff)
	waitForEvent(t, ns, report.Name, "SignedOff", "Normal")

	// Nobody edits or removes a sign-off, not even the one who made it.
	for what, change := range map[string]func(*securityv1alpha1.IncidentReport){
		"the note":    func(r *securityv1alpha1.IncidentReport) { r.Spec.SignOffs[0].Note = "rewritten" },
		"the account": func(r *securityv1alpha1.IncidentReport) { r.Spec.SignOffs[0].By.Username = "pat" },
		"the entry":   func(r *securityv1alpha1.IncidentReport) { r.Spec.SignOffs = nil },
	} {
		edited := stored.DeepCopy()
		change(edited)
		if err := reviewer.Patch(t.Context(), edited, client.MergeFrom(stored)); err == nil || !strings.Contains(err.Error(), "spec.signOffs") {
			t.Errorf("changing %s: %v; want refused naming spec.signOffs", what, err)
		}
	}

	// The reviewer may not redirect the document; the policy admin may.
	redirected := stored.DeepCopy()
	redirected.Spec.Receivers[0].Webhook.URLSecretRef.Name = "mallory"
	if err := reviewer.Patch(t.Context(), redirected, client.MergeFrom(stored)); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "configure") {
		t.Errorf("the reviewer changed the receivers: %v", err)
	}
	suspended := stored.DeepCopy()
	suspended.Spec.Suspend = true
	if err := admin.Patch(t.Context(), suspended, client.MergeFrom(stored)); err != nil {
		t.Errorf("the policy admin could not suspend the report: %v", err)
	}
}

// A run not signed off by its due time is told to the escalation
// receiver, once, however often the operator looks again; a run signed
// off in time is not.
func TestIncidentReportReviewOverdueEscalatesOnce(t *testing.T) {
	ns := newNamespace(t)
	hook, deputy := newDocumentReceiver(t, nil), newDocumentReceiver(t, nil)
	create(t, secretWithData(ns, "hook", map[string]string{"url": hook.URL}))
	create(t, secretWithData(ns, "deputy", map[string]string{"url": deputy.URL}))
	schedule, slot := weeklySlot()
	reports := map[string]*securityv1alpha1.IncidentReport{}
	for _, name := range []string{"unreviewed", "reviewed"} {
		r := controlDocumentReport(ns, name, schedule, hookReceiver("hook", "hook"), hookReceiver("deputy", "deputy"))
		r.Spec.ReviewWithin = securityv1alpha1.NewDuration(24 * time.Hour)
		r.Spec.ReviewEscalation = []string{"deputy"}
		createReport(t, r)
		waitForCondition(t, r, reportConditions(r), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
		reports[name] = r
	}
	moveClockTo(t, slot.Add(time.Minute))
	id := slot.Format(time.RFC3339)
	for _, r := range reports {
		nudgeReport(t, r)
		waitForRun(t, r, id, allDelivered)
	}
	reviewer := holding(t, ns, "mia", "incident-report-reviewer")
	stored := getReport(t, ns, "reviewed")
	signed := stored.DeepCopy()
	signed.Spec.SignOffs = []securityv1alpha1.ReportSignOff{{Run: id}}
	if err := reviewer.Patch(t.Context(), signed, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, reports["reviewed"], reportConditions(reports["reviewed"]), securityv1alpha1.ConditionReviewed, metav1.ConditionTrue, securityv1alpha1.ReasonSignedOff)

	moveClockTo(t, slot.Add(25*time.Hour))
	for range 3 {
		for _, r := range reports {
			nudgeReport(t, r)
		}
		time.Sleep(500 * time.Millisecond)
	}
	run := waitForRun(t, reports["unreviewed"], id, func(run *securityv1alpha1.ReportRun) error {
		if run.ReviewEscalatedAt == nil || len(run.ReviewEscalations) != 1 || run.ReviewEscalations[0].State != securityv1alpha1.DeliveryDelivered {
			return fmt.Errorf("review escalations %+v", run.ReviewEscalations)
		}
		return nil
	})
	c := waitForCondition(t, reports["unreviewed"], reportConditions(reports["unreviewed"]), securityv1alpha1.ConditionReviewed, metav1.ConditionFalse, securityv1alpha1.ReasonReviewOverdue)
	if !strings.Contains(c.Message, id) {
		t.Errorf("Reviewed says %q; want the run named", c.Message)
	}
	overdue := waitForEvent(t, ns, "unreviewed", "ReviewOverdue", "Warning")
	if !strings.Contains(overdue.Note, "deputy") {
		t.Errorf("ReviewOverdue says %q; want who is told", overdue.Note)
	}

	// The deputy is told of the overdue review, once, and is not sent the
	// documents themselves.
	notices := deputy.received()
	if len(notices) != 1 {
		var got []string
		for _, n := range notices {
			got = append(got, fmt.Sprintf("%s of run %s (document: %v)", cmp.Or(n.msg.Notice, "document"), n.msg.Run, n.msg.Document != nil))
		}
		t.Fatalf("the deputy got %d messages, want exactly 1: %s", len(notices), strings.Join(got, "; "))
	}
	if key := notices[0].header.Get(notify.IdempotencyKeyHeader); key != run.ReviewEscalations[0].Key {
		t.Errorf("the notice carried key %q, want the escalation's %q", key, run.ReviewEscalations[0].Key)
	}
	n := notices[0].msg
	if n.Notice != notify.NoticeReviewOverdue || n.Report != "unreviewed" || n.Run != id || n.ReviewDueAt == nil ||
		!n.ReviewDueAt.Equal(slot.Add(24*time.Hour)) || n.Document != nil {
		t.Errorf("notice %+v; want the report, the run and the due time, and no document", n)
	}
	if r := getReport(t, ns, "reviewed"); r.Status.Runs[0].ReviewEscalatedAt != nil || len(eventsFor(t, ns, "reviewed", "ReviewOverdue")) != 0 {
		t.Errorf("the run signed off in time was escalated: %+v", r.Status.Runs[0])
	}
}
