package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReportKind is which document a report makes.
// +kubebuilder:validation:Enum=ControlDocument;Summary;BreachRegister
type ReportKind string

const (
	// ReportControlDocument is one row per incident reported in the
	// period, as the organisation's spreadsheet kept it (STW 5.1, 6): the
	// manager's weekly review.
	ReportControlDocument ReportKind = "ControlDocument"
	// ReportSummary is the review group's report for the period (SH 4.3,
	// 5): counts, times to acknowledge and resolve, SLA, reports to the
	// authority, major incidents, open supplier incidents, weaknesses.
	ReportSummary ReportKind = "Summary"
	// ReportBreachRegister is the register of personal data breaches that
	// UK GDPR Art. 33(5) asks for: every incident of the namespace that
	// involves personal data, whenever it happened and whether or not it
	// was reported, as its record stands when the run is made. For each,
	// the facts, the decision whether to notify the supervisory authority
	// (Art. 33) with its reasons and who decided, drafted, agreed and
	// filed, when it was filed and how late, the authority's case number,
	// and whether the data subjects were told (Art. 34). The register is
	// kept whole, so a run's period does not narrow it.
	ReportBreachRegister ReportKind = "BreachRegister"
)

// ReportFormat is the file a report is written as.
// +kubebuilder:validation:Enum=CSV;XLSX;Markdown
type ReportFormat string

const (
	ReportCSV      ReportFormat = "CSV"
	ReportXLSX     ReportFormat = "XLSX"
	ReportMarkdown ReportFormat = "Markdown"
)

// DefaultReportPeriod is the window a run covers when the report sets none.
const DefaultReportPeriod = "168h"

// MaxReportRuns is how many runs a report's status keeps, newest last.
const MaxReportRuns = 12

// ReportSignOff records that someone reviewed one run's document (STW
// 5.1: the manager reviews the control document weekly).
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a sign-off cannot be changed once recorded"
type ReportSignOff struct {
	// Run is the ID of the run signed off, as status.runs[].id gives it:
	// the run's scheduled time in RFC 3339, UTC, such as
	// 2026-03-02T09:00:00Z. The API server refuses a sign-off for a run
	// the report has not made.
	// +kubebuilder:validation:MinLength=20
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$`
	// +required
	Run string `json:"run"`

	// Note from the reviewer: what they checked, what they asked for.
	// +kubebuilder:validation:MaxLength=2000
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Note string `json:"note,omitempty"`

	// By is the account that signed off, written by the API server
	// (config/admission/report-signoff.yaml): whatever a client sends in
	// its place is overwritten, and a sign-off it did not stamp is refused.
	// +optional
	By *Attestation `json:"by,omitempty"`
}

// IncidentReportSpec says which document is made, when, over which
// period, and who receives it.
// +kubebuilder:validation:XValidation:rule="!has(self.reviewEscalation) || has(self.reviewWithin)",message="reviewEscalation needs reviewWithin: it is who is told when a run is not signed off within it",fieldPath=".reviewEscalation"
// +kubebuilder:validation:XValidation:rule="!has(self.reviewEscalation) || self.reviewEscalation.all(n, self.receivers.exists(r, r.name == n))",message="every reviewEscalation entry must name one of spec.receivers",fieldPath=".reviewEscalation"
// +kubebuilder:validation:XValidation:rule="!has(self.reviewEscalation) || self.receivers.exists(r, !(r.name in self.reviewEscalation))",message="no receiver gets the document: those named in reviewEscalation are only told of overdue reviews",fieldPath=".receivers"
// +kubebuilder:validation:XValidation:rule="!(self.report == 'Summary' && has(self.format) && self.format == 'CSV')",message="the summary is several tables: choose Markdown or XLSX",fieldPath=".format"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.signOffs) || (has(self.signOffs) && oldSelf.signOffs.all(o, self.signOffs.exists(s, s.run == o.run)))",message="signOffs is append-only: a sign-off cannot be removed",fieldPath=".signOffs"
type IncidentReportSpec struct {
	// Report is which document each run makes: ControlDocument, Summary or
	// BreachRegister.
	// +required
	Report ReportKind `json:"report"`

	// Schedule is when the report runs: a cron expression of five fields
	// (minute hour day-of-month month day-of-week), or a descriptor such as
	// @weekly, read as a CronJob's is, in timeZone. "0 9 * * 1" is every
	// Monday at 09:00. A schedule the operator cannot read is reported on
	// the report (Ready=False, InvalidSchedule, naming spec.schedule).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Schedule string `json:"schedule"`

	// TimeZone is the canonical IANA time zone the schedule and the
	// document's times are read in: an Area/Location such as
	// Europe/London, UTC, or Etc/GMT-2. Defaults to UTC. The names of the
	// host's own zone (Local, localtime, posixrules, Factory) and older
	// aliases such as GB are refused. A slot in the hour the clocks skip
	// does not run that day; one in the hour they repeat runs twice.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	// +kubebuilder:validation:XValidation:rule="self == 'UTC' || self.matches('^(Etc/(UTC|GMT|GMT[+-]([1-9]|1[0-2])|GMT-1[34])|(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Z][A-Za-z0-9_+-]*(/[A-Z][A-Za-z0-9_+-]*)?)$')",message="timeZone must be a canonical IANA zone, such as Europe/London, UTC or Etc/GMT-2: Local, localtime, posixrules and Factory would be whatever zone the operator's host is in, and aliases such as GB or US/Eastern are not canonical"
	// +kubebuilder:default=UTC
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// Period is the span each run covers, ending at the run's scheduled
	// time: incidents reported in it are in the document. A period of whole
	// days (168h) counts days on the calendar of timeZone, so that each
	// week runs from Monday 09:00 to Monday 09:00 even across a change of
	// the clocks. The breach register holds every breach whatever the
	// period. At least 1h and at most 8760h, in whole seconds. Defaults to
	// 168h.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1h') && duration(self) <= duration('8760h'))",message="period must be at least 1h and at most 8760h (a year)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="period is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +kubebuilder:default="168h"
	// +optional
	Period *Duration `json:"period,omitempty"`

	// Format of the document: CSV, XLSX or Markdown. Defaults to XLSX for
	// the control document and the breach register, and Markdown for the
	// summary, which has no CSV form.
	// +optional
	Format ReportFormat `json:"format,omitempty"`

	// Receivers get each run's document, except those named in
	// reviewEscalation, which are only told of overdue reviews: a webhook
	// receives the document as JSON with the file in base64, e-mail as an
	// attachment. Chat and paging
	// channels cannot carry a file and are refused. Webhook URLs and
	// signing keys come from Secrets labelled for the operator, as for
	// EscalationPolicies: one it cannot read is reported at once
	// (Ready=False, SecretNotFound, naming the field), not at the first
	// run. E-mail goes through the operator's SMTP server.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(r, has(r.webhook) || has(r.email))",message="a report's receivers carry a file: use webhook or email; slack, teams and pagerDuty cannot"
	// +kubebuilder:validation:XValidation:rule="self.all(r, !has(r.template))",message="a report's messages have a fixed text: template is for EscalationPolicy receivers"
	// +listType=map
	// +listMapKey=name
	// +required
	Receivers []Receiver `json:"receivers"`

	// ReviewWithin is how long after its scheduled time each run must be
	// signed off (spec.signOffs). A run not signed off by then is told to
	// reviewEscalation, once. At least 1m and at most 8760h, in whole
	// seconds: a person needs time to read the document.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="reviewWithin must be at least 1m and at most 8760h (a year): a person needs time to read the document"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="reviewWithin is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	ReviewWithin *Duration `json:"reviewWithin,omitempty"`

	// ReviewEscalation names the receivers told when a run is not signed
	// off within reviewWithin: a deputy, senior management. Each must be
	// one of receivers; they are not sent the documents themselves.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	ReviewEscalation []string `json:"reviewEscalation,omitempty"`

	// Suspend stops new runs; deliveries and review escalations already
	// owed still go. A slot that passes while suspended is not run later,
	// except the latest, once, when the report is resumed.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// SignOffs record the review of runs, one per run. They are only
	// appended, and each is attested by the API server: its by is the
	// account that made the request. At most 520: ten years of a weekly
	// report.
	// +kubebuilder:validation:MaxItems=520
	// +listType=map
	// +listMapKey=run
	// +optional
	SignOffs []ReportSignOff `json:"signOffs,omitempty"`
}

// ReportDelivery is one receiver's delivery of a run's document, or of the
// notice that a run's review is overdue. Its key is derived from the
// report's UID, the run and the receiver.
type ReportDelivery struct {
	DeliveryAttempt `json:",inline"`
	// SHA256 is the hex SHA-256 of the document the receiver accepted.
	// It is the run's, unless the operator restarted while the delivery was
	// owed and made the document again from the incidents as they were by
	// then.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
}

// ReportRun is one run of a report: the document made for one slot of the
// schedule, who it was sent to, and its review.
type ReportRun struct {
	// ID names the run: its scheduled time in RFC 3339, UTC. Sign-offs name
	// runs by it.
	ID string `json:"id"`
	// From and To bound the period the run covers: incidents reported at or
	// after From and before To. To is the run's scheduled time.
	From metav1.Time `json:"from"`
	To   metav1.Time `json:"to"`
	// MadeAt is when the operator made the document: the scheduled time,
	// or later when the operator was not running then.
	// +optional
	MadeAt *metav1.Time `json:"madeAt,omitempty"`
	// Incidents is how many incidents of the period the document covers.
	// +optional
	Incidents int32 `json:"incidents"`
	// Format and Filename of the document.
	// +optional
	Format ReportFormat `json:"format,omitempty"`
	// +optional
	Filename string `json:"filename,omitempty"`
	// SHA256 is the hex SHA-256 of the document, and Size its length in
	// bytes, so that a receiver can show it holds what was sent.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// +optional
	Size int64 `json:"size,omitempty"`
	// Deliveries are the document's, one per receiver.
	// +listType=map
	// +listMapKey=receiver
	// +optional
	Deliveries []ReportDelivery `json:"deliveries,omitempty"`
	// ReviewDueAt is when the run must be signed off by, when the report
	// sets reviewWithin.
	// +optional
	ReviewDueAt *metav1.Time `json:"reviewDueAt,omitempty"`
	// SignedOffBy is the account that signed the run off, and SignedOffAt
	// when the operator first saw the sign-off.
	// +optional
	SignedOffBy *Attestation `json:"signedOffBy,omitempty"`
	// +optional
	SignedOffAt *metav1.Time `json:"signedOffAt,omitempty"`
	// ReviewEscalatedAt is when the run's review became overdue and the
	// reviewEscalation receivers were owed a notice.
	// +optional
	ReviewEscalatedAt *metav1.Time `json:"reviewEscalatedAt,omitempty"`
	// ReviewEscalations are those notices, one per receiver.
	// +listType=map
	// +listMapKey=receiver
	// +optional
	ReviewEscalations []ReportDelivery `json:"reviewEscalations,omitempty"`
}

// IncidentReportStatus is written by the operator.
type IncidentReportStatus struct {
	// ObservedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastScheduleTime is the scheduled time of the last run.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// NextScheduleTime is the scheduled time of the next run; unset while
	// the report is suspended or its schedule cannot be read.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// Runs are the last runs, oldest first, at most MaxReportRuns (12).
	// +kubebuilder:validation:MaxItems=12
	// +listType=map
	// +listMapKey=id
	// +optional
	Runs []ReportRun `json:"runs,omitempty"`

	// Conditions: Ready (Stalled or Reconciling while it is not), Reviewed
	// when the report sets reviewWithin, and InputValid=False for a
	// sign-off that names no run.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IncidentReport conditions and reasons.
const (
	// ConditionReviewed says whether the latest run whose review is due
	// has been signed off.
	ConditionReviewed = "Reviewed"

	ReasonInvalidSchedule   = "InvalidSchedule"
	ReasonInvalidTimeZone   = "InvalidTimeZone"
	ReasonDeliveryAbandoned = "DeliveryAbandoned"
	ReasonSignedOff         = "SignedOff"
	ReasonAwaitingSignOff   = "AwaitingSignOff"
	ReasonReviewOverdue     = "ReviewOverdue"
	ReasonUnknownRun        = "UnknownRun"
)

// IncidentReport makes a document about the incidents of its own namespace
// on a schedule, the control document, the summary or the breach register,
// and sends it to its receivers; people sign each run off as reviewed.
// Being namespaced, it reads only its own namespace's incidents, assets and
// Filings: a tenant who may create reports in one namespace learns nothing
// of another's incidents.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=increport,categories=incidentops
// +kubebuilder:printcolumn:name="Report",type=string,JSONPath=`.spec.report`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Time-Zone",type=string,JSONPath=`.spec.timeZone`,priority=1
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Last-Run",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Next-Run",type=string,JSONPath=`.status.nextScheduleTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reviewed",type=string,JSONPath=`.status.conditions[?(@.type=="Reviewed")].status`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IncidentReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec IncidentReportSpec `json:"spec"`
	// +optional
	Status IncidentReportStatus `json:"status,omitempty"`
}

// IncidentReportList is a list of IncidentReports.
//
// +kubebuilder:object:root=true
type IncidentReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IncidentReport `json:"items"`
}

func init() {
	SchemeBuilder.Register(&IncidentReport{}, &IncidentReportList{})
}
