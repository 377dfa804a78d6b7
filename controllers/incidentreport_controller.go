package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/receiver"
	"github.com/incidentops/incident-operator/internal/reportrun"
	"github.com/incidentops/incident-operator/internal/schedule"
)

// Event reasons of IncidentReports.
const (
	EventReportSent = "ReportSent"
	// EventReportFailed: a delivery of a run failed; it is retried.
	EventReportFailed = "ReportDeliveryFailed"
	// EventReportAbandoned: a delivery of a run used up its attempts.
	EventReportAbandoned = "ReportDeliveryAbandoned"
	// EventRunsMissed: slots passed while the operator was away or the
	// report suspended; only the latest was run.
	EventRunsMissed    = "RunsMissed"
	EventReviewOverdue = "ReviewOverdue"
	EventSignedOff     = "SignedOff"
	// EventSignOffNotTrusted: a sign-off names no run, or was not attested.
	EventSignOffNotTrusted = "SignOffNotTrusted"
	// EventDocumentRemade: a run's document was made again after a
	// restart and differs from the first, because the incidents changed.
	EventDocumentRemade = "DocumentRemade"
)

// IncidentReportReconciler makes each report's document on its schedule,
// from the incidents of the report's namespace, and delivers it to the
// report's receivers; it records sign-offs and tells the escalation
// receivers of reviews that are overdue.
//
// Every time comes from Clock and every decision from status, so a
// restarted operator owes exactly what status says: the latest slot
// missed while it was away is run once, and deliveries still owed are
// retried under their keys.
type IncidentReportReconciler struct {
	client.Client
	Events    eventRecorder
	Clock     clock.Clock
	Transport *receiver.Transport
	Backoff   delivery.Backoff
	// MailConfigured is true when the operator has an SMTP server.
	MailConfigured bool
	// Sent remembers deliveries whose outcome is not stored yet.
	Sent *sentLedger
	// Documents keeps each run's document while a delivery of it is owed,
	// so that every retry sends the same bytes.
	Documents *documentCache
	// Retained, when the operator archives, reads the incidents that
	// retention archived and removed from the cluster, so that a run still
	// covers them; nil reads the cluster alone.
	Retained RetainedIncidents
}

// RetainedIncidents reads the incidents of a namespace that retention
// archived and removed from the cluster, whose time in the cluster
// overlaps [from, to) (a zero time is open), each checked against the
// archived log (retained.Reader).
type RetainedIncidents interface {
	RetainedIncidents(ctx context.Context, namespace string, from, to time.Time) ([]securityv1alpha1.Incident, error)
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidentreports,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidentreports/status,verbs=patch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidents;assets,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=filings,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *IncidentReportReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	report := &securityv1alpha1.IncidentReport{}
	if err := r.Get(ctx, req.NamespacedName, report); err != nil {
		if apierrors.IsNotFound(err) {
			r.Documents.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := report.DeepCopy()
	readVersion := report.ResourceVersion
	var delivered []string
	defer func() {
		if retErr == nil || errors.Is(retErr, reconcile.TerminalError(nil)) {
			report.Status.ObservedGeneration = report.Generation
		}
		err := patchStatus(ctx, r.Client, report, before, reportStatus)
		if err == nil {
			r.Sent.forget(delivered)
			if report.ResourceVersion != readVersion {
				waitForCache(ctx, r.Client, report, func() *securityv1alpha1.IncidentReport { return &securityv1alpha1.IncidentReport{} })
			}
		}
		retErr = errors.Join(retErr, err)
	}()

	now := r.Clock.Now()
	status := &report.Status
	if problems := reportrun.Check(report, r.MailConfigured); len(problems) > 0 {
		reason, message := policycheck.Summary(problems)
		status.NextScheduleTime = nil
		markStalled(&status.Conditions, report.Generation, now, reason, truncateBytes(message, maxConditionMessage))
		// Only a new generation, or an operator with other settings, can
		// mend it; retrying would not.
		return ctrl.Result{}, reconcile.TerminalError(errors.New(message))
	}
	sched, _ := schedule.Parse(report.Spec.Schedule, report.Spec.TimeZone)
	loc := sched.Location()

	// A receiver whose Secret cannot be used is told up front, as a
	// policy's is, rather than when its first run fails; the report still
	// runs, and delivers once the Secret is there.
	missing, err := unavailableSecrets(ctx, r.Transport.Secrets, report.Namespace, report.Spec.Receivers)
	if err != nil {
		return ctrl.Result{}, err
	}

	next := r.startDueRun(report, sched, now)
	r.recordSignOffs(report, now)
	r.escalateOverdueReviews(report, loc, now)
	keys, err := r.deliverDue(ctx, report, loc)
	delivered = keys
	if err != nil {
		return ctrl.Result{}, err
	}
	r.Documents.keepOwed(report)
	r.setConditions(report, next, loc)

	now = r.Clock.Now()
	wait := earliest(untilWake(next, now), reportrun.NextRetry(status.Runs, now))
	wait = earliest(wait, untilWake(reportrun.NextReviewDue(status.Runs, now), now))
	if len(missing) > 0 {
		// Secrets are read by GET, never watched: look again for them.
		markStalled(&status.Conditions, report.Generation, now, securityv1alpha1.ReasonSecretNotFound,
			truncateBytes(strings.Join(missing, "; "), maxConditionMessage))
		wait = earliest(wait, secretRecheckInterval)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

func reportStatus(r *securityv1alpha1.IncidentReport) any { return r.Status }

// startDueRun starts the run owed now, if any: the latest slot since the
// last run (or since the report was created), once, however many passed,
// as CronJob does. It returns the next slot, zero while suspended.
func (r *IncidentReportReconciler) startDueRun(report *securityv1alpha1.IncidentReport, sched schedule.Schedule, now time.Time) time.Time {
	status := &report.Status
	if report.Spec.Suspend {
		status.NextScheduleTime = nil
		return time.Time{}
	}
	after := report.CreationTimestamp.Time
	if last := status.LastScheduleTime; last != nil {
		after = last.Time
	}
	slots := sched.Due(after, now)
	status.NextScheduleTime = optionalTime(slots.Next)
	if slots.Latest.IsZero() {
		return slots.Next
	}
	from, to := sched.Window(slots.Latest, reportrun.PeriodOf(&report.Spec))
	run := reportrun.NewRun(report, to, from)
	status.Runs = reportrun.Append(status.Runs, run)
	status.LastScheduleTime = optionalTime(slots.Latest)
	if slots.Missed > 1 {
		count := fmt.Sprint(slots.Missed - 1)
		if slots.MissedCapped() {
			count = "more than " + count
		}
		r.Events.warning(report, EventRunsMissed, "Run "+run.ID, "%s earlier runs were missed while the operator was not running or the report was suspended; ran once, for the latest, %s",
			count, run.ID)
	}
	return slots.Next
}

func optionalTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewTime(t)
	return &m
}

// recordSignOffs records each run's sign-off, and reports those that count
// for nothing as InputValid=False, naming each.
func (r *IncidentReportReconciler) recordSignOffs(report *securityv1alpha1.IncidentReport, now time.Time) {
	result := reportrun.ApplySignOffs(report, now)
	for _, run := range result.New {
		r.Events.normal(report, EventSignedOff, "Sign off "+run.ID, "Run %s signed off by %s", run.ID, run.SignedOffBy.Username)
	}
	conditions := &report.Status.Conditions
	if len(result.Untrusted) == 0 {
		meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionInputValid)
		return
	}
	message := truncateBytes(strings.Join(result.Untrusted, "; "), maxConditionMessage)
	if c := meta.FindStatusCondition(*conditions, securityv1alpha1.ConditionInputValid); c == nil || c.Message != message {
		r.Events.warning(report, EventSignOffNotTrusted, "Sign off", "%s", message)
	}
	setCondition(conditions, report.Generation, now, securityv1alpha1.ConditionInputValid, metav1.ConditionFalse, securityv1alpha1.ReasonUnknownRun, message)
}

// escalateOverdueReviews owes the reviewEscalation receivers a notice of
// each run not signed off in time, once, and tells people by an event.
func (r *IncidentReportReconciler) escalateOverdueReviews(report *securityv1alpha1.IncidentReport, loc *time.Location, now time.Time) {
	for _, run := range reportrun.EscalateOverdueReviews(report, now) {
		told := "nobody else: the report names no reviewEscalation receivers"
		if names := report.Spec.ReviewEscalation; len(names) > 0 {
			told = strings.Join(names, ", ")
		}
		r.Events.warning(report, EventReviewOverdue, "Review "+run.ID, "Run %s was not signed off by %s; telling %s",
			run.ID, run.ReviewDueAt.In(loc).Format(time.RFC3339), told)
	}
}

// deliverDue makes one attempt at every delivery due now, of every run
// kept, and records each outcome. It returns the keys recorded as
// delivered, for the ledger to forget once they are stored; an error only
// when a run's document could not be made.
func (r *IncidentReportReconciler) deliverDue(ctx context.Context, report *securityv1alpha1.IncidentReport, loc *time.Location) ([]string, error) {
	now := r.Clock.Now()
	var keys []string
	sent := map[*securityv1alpha1.ReportRun][]string{}
	for _, owed := range reportrun.Due(report.Status.Runs, now) {
		msg, err := r.message(ctx, report, owed, loc)
		if err != nil {
			return keys, err
		}
		d := owed.Delivery
		digest := ""
		if msg.Document != nil {
			digest = msg.SHA256
		}
		if at, ok := r.Sent.deliveredAt(d.Key, now); ok {
			reportrun.Delivered(d, at, digest)
			keys = append(keys, d.Key)
			continue
		}
		if err := r.send(ctx, report, d.Receiver, msg); err != nil {
			r.recordFailure(report, owed, err)
			continue
		}
		at := r.Clock.Now()
		r.Sent.remember(d.Key, at)
		reportrun.Delivered(d, at, digest)
		keys = append(keys, d.Key)
		if !owed.Review {
			sent[owed.Run] = append(sent[owed.Run], d.Receiver+" ("+d.Channel+")")
		}
	}
	for run, to := range sent {
		r.Events.normal(report, EventReportSent, "Send "+run.ID, "Sent the %s of run %s (%d incidents, %s) to %s",
			kindName(report), run.ID, run.Incidents, run.Filename, strings.Join(to, ", "))
	}
	return keys, nil
}

// message is what owed sends: the run's document, made now if it is not
// kept from before, or the notice that the run's review is overdue.
func (r *IncidentReportReconciler) message(ctx context.Context, report *securityv1alpha1.IncidentReport, owed reportrun.Owed, loc *time.Location) (notify.Message, error) {
	run := owed.Run
	msg := notify.Message{Key: owed.Delivery.Key, ReportMessage: &notify.ReportMessage{
		Report: report.Name, Namespace: report.Namespace, ReportUID: string(report.UID),
		Kind: string(report.Spec.Report), Run: run.ID, From: run.From.In(loc), To: run.To.In(loc),
	}}
	if owed.Review {
		due := run.ReviewDueAt.In(loc)
		msg.Notice, msg.ReviewDueAt, msg.Incidents = notify.NoticeReviewOverdue, &due, int(run.Incidents)
		return msg, nil
	}
	doc, err := r.document(ctx, report, run, loc)
	if err != nil {
		return msg, err
	}
	msg.Document, msg.Incidents = doc, int(run.Incidents)
	return msg, nil
}

// document is the run's document: kept from when it was made, or made now
// from the incidents, assets and Filings of the report's namespace in the
// cache, and the incidents of its period that retention archived.
// Made again after a restart, it holds the incidents as they are now, and
// the run records the new digest.
func (r *IncidentReportReconciler) document(ctx context.Context, report *securityv1alpha1.IncidentReport, run *securityv1alpha1.ReportRun, loc *time.Location) (*notify.Document, error) {
	if doc := r.Documents.get(report, run.ID); doc != nil {
		return doc, nil
	}
	var incidents securityv1alpha1.IncidentList
	if err := r.List(ctx, &incidents, client.InNamespace(report.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the incidents of namespace %s: %w", report.Namespace, err)
	}
	var assets securityv1alpha1.AssetList
	if err := r.List(ctx, &assets, client.InNamespace(report.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the assets of namespace %s, for their suppliers: %w", report.Namespace, err)
	}
	var filings securityv1alpha1.FilingList
	if err := r.List(ctx, &filings, client.InNamespace(report.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the Filings of namespace %s, for what was decided and filed: %w", report.Namespace, err)
	}
	var archived []securityv1alpha1.Incident
	if r.Retained != nil {
		from, to := reportrun.ArchivedPeriod(&report.Spec, run)
		var err error
		if archived, err = r.Retained.RetainedIncidents(ctx, report.Namespace, from, to); err != nil {
			return nil, fmt.Errorf("reading the archived incidents of namespace %s (kubectl incident audit verify --archive checks the archive): %w", report.Namespace, err)
		}
	}
	now := r.Clock.Now()
	doc, count, err := reportrun.Make(reportrun.Input{
		Report: report, Run: run, Incidents: incidents.Items, Archived: archived, Assets: assets.Items, Filings: filings.Items, Location: loc, Now: now,
	})
	if err != nil {
		return nil, err
	}
	if run.SHA256 != "" && run.SHA256 != doc.SHA256 {
		r.Events.normal(report, EventDocumentRemade, "Make "+run.ID,
			"The document of run %s was made again after a restart, from the incidents as they are now; its SHA-256 changed from %s to %s",
			run.ID, run.SHA256, doc.SHA256)
	}
	reportrun.Record(run, doc, count, now)
	r.Documents.put(report, run.ID, doc)
	return doc, nil
}

// send makes one attempt at delivering msg to the report's receiver name.
func (r *IncidentReportReconciler) send(ctx context.Context, report *securityv1alpha1.IncidentReport, name string, msg notify.Message) error {
	var spec *securityv1alpha1.Receiver
	for i := range report.Spec.Receivers {
		if report.Spec.Receivers[i].Name == name {
			spec = &report.Spec.Receivers[i]
		}
	}
	if spec == nil {
		return permanentError{fmt.Errorf("the report no longer has a receiver %q", name)}
	}
	to, err := receiver.New(report.Namespace, spec, nil, r.Transport)
	if err != nil {
		return permanentError{err}
	}
	return to.Send(ctx, msg)
}

// recordFailure writes a failed attempt into its delivery and tells people:
// each failure as a Warning (one series per run and receiver), and a
// Warning when the delivery is given up.
func (r *IncidentReportReconciler) recordFailure(report *securityv1alpha1.IncidentReport, owed reportrun.Owed, err error) {
	d := owed.Delivery
	failure := delivery.Failure{Error: notify.Truncate(err.Error(), maxErrorLength), Permanent: isPermanent(err)}
	failure.RetryAfter, _ = notify.RetryAfter(err)
	what := "the " + kindName(report)
	if owed.Review {
		what = "the notice that its review is overdue"
	}
	action := "Send " + owed.Run.ID + " to " + d.Receiver
	if reportrun.Failed(d, failure, r.Clock.Now(), r.Backoff) {
		why := fmt.Sprintf("after %d attempts", d.Attempts)
		if failure.Permanent {
			why = "at once: retrying cannot help"
		}
		r.Events.warning(report, EventReportAbandoned, action, "Gave up sending %s of run %s to %s %s: %s", what, owed.Run.ID, d.Receiver, why, d.LastError)
		return
	}
	r.Events.warning(report, EventReportFailed, action, "Sending %s of run %s to %s failed: %s", what, owed.Run.ID, d.Receiver, d.LastError)
}

// kindName is the report's document as people call it.
func kindName(report *securityv1alpha1.IncidentReport) string {
	switch report.Spec.Report {
	case securityv1alpha1.ReportSummary:
		return "summary"
	case securityv1alpha1.ReportBreachRegister:
		return "breach register"
	}
	return "control document"
}

// setConditions sets Ready (with Reconciling or Stalled) and Reviewed from
// the runs.
func (r *IncidentReportReconciler) setConditions(report *securityv1alpha1.IncidentReport, next time.Time, loc *time.Location) {
	now := r.Clock.Now()
	conditions, generation := &report.Status.Conditions, report.Generation
	ready, progress := reportrun.Ready(report, next, loc)
	switch progress {
	case delivery.Done:
		markReady(conditions, generation, now, ready.Message)
	case delivery.GaveUp:
		markStalled(conditions, generation, now, ready.Reason, truncateBytes(ready.Message, maxConditionMessage))
	default:
		markReconciling(conditions, generation, now, ready.Reason, truncateBytes(ready.Message, maxConditionMessage))
	}
	if reviewed, ok := reportrun.Reviewed(report, loc); ok {
		setCondition(conditions, generation, now, securityv1alpha1.ConditionReviewed, reviewed.Status, reviewed.Reason, reviewed.Message)
	} else {
		meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionReviewed)
	}
}

// SetupWithManager registers the controller. A report is reconciled when
// its spec (sign-offs included), labels or annotations change; its
// schedule, retries and review deadlines come back through RequeueAfter.
func (r *IncidentReportReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.IncidentReport{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Named("incidentreport").
		Complete(r)
}

// documentCache keeps the documents of runs that still owe a delivery,
// in memory only: a restart makes them again.
type documentCache struct {
	mu   sync.Mutex
	docs map[documentKey]*notify.Document
}

type documentKey struct {
	report types.NamespacedName
	uid    types.UID
	run    string
}

func keyOf(report *securityv1alpha1.IncidentReport, run string) documentKey {
	return documentKey{report: client.ObjectKeyFromObject(report), uid: report.UID, run: run}
}

func (c *documentCache) get(report *securityv1alpha1.IncidentReport, run string) *notify.Document {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.docs[keyOf(report, run)]
}

func (c *documentCache) put(report *securityv1alpha1.IncidentReport, run string, doc *notify.Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil {
		c.docs = map[documentKey]*notify.Document{}
	}
	c.docs[keyOf(report, run)] = doc
}

// keepOwed drops the report's documents that no delivery owes any more.
func (c *documentCache) keepOwed(report *securityv1alpha1.IncidentReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := client.ObjectKeyFromObject(report)
	for k := range c.docs {
		if k.report != name {
			continue
		}
		if run := reportrun.Find(report.Status.Runs, k.run); k.uid != report.UID || run == nil || !reportrun.Unsettled(run) {
			delete(c.docs, k)
		}
	}
}

// forget drops every document of a report that is gone.
func (c *documentCache) forget(report types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.docs {
		if k.report == report {
			delete(c.docs, k)
		}
	}
}
