package reportrun

import (
	"bytes"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/report"
)

// Input is what a run's document is made from.
type Input struct {
	Report *securityv1alpha1.IncidentReport
	Run    *securityv1alpha1.ReportRun
	// Incidents, Assets and Filings are the report's namespace's. Any
	// other namespace's are left out whatever the caller hands over: a
	// report never tells one tenant about another's incidents.
	Incidents []securityv1alpha1.Incident
	Assets    []securityv1alpha1.Asset
	Filings   []securityv1alpha1.Filing
	// Archived are the incidents of the namespace that retention archived
	// and removed from the cluster, of the period ArchivedPeriod gives;
	// an incident also in Incidents is taken from Incidents.
	Archived []securityv1alpha1.Incident
	// Location is the report's time zone; Now is when the document is made.
	Location *time.Location
	Now      time.Time
}

// Make writes the run's document in the report's format: the control
// document's rows for the incidents reported in the run's period, the
// summary of the period, or the whole breach register. It returns how many
// incidents the document covers.
func Make(in Input) (*notify.Document, int, error) {
	ns := in.Report.Namespace
	incidents := report.WithArchived(inNamespace(in.Incidents, ns), inNamespace(in.Archived, ns))
	from, to := in.Run.From.In(in.Location), in.Run.To.In(in.Location)
	format := FormatOf(&in.Report.Spec)

	var write func(io.Writer) error
	count := 0
	filings := report.FilingsOf(inNamespace(in.Filings, ns))
	switch in.Report.Spec.Report {
	case securityv1alpha1.ReportBreachRegister:
		register := report.BreachRegister(incidents, filings, in.Location, in.Now)
		count = len(register)
		write = writerFor(format, register, map[securityv1alpha1.ReportFormat]func(io.Writer, []report.Breach) error{
			securityv1alpha1.ReportCSV: report.WriteBreachRegisterCSV, securityv1alpha1.ReportXLSX: report.WriteBreachRegisterXLSX, securityv1alpha1.ReportMarkdown: report.WriteBreachRegisterMarkdown,
		})
	case securityv1alpha1.ReportSummary:
		rows := report.ControlDocument(incidents, report.AssetsOf(inNamespace(in.Assets, ns)), filings, in.Location, in.Now)
		summary := report.Summarise(rows, from, to, in.Now.In(in.Location))
		count = summary.Reported
		write = writerFor(format, summary, map[securityv1alpha1.ReportFormat]func(io.Writer, report.Summary) error{
			securityv1alpha1.ReportXLSX: report.WriteSummaryXLSX, securityv1alpha1.ReportMarkdown: report.WriteSummaryMarkdown,
		})
	default:
		rows := report.ControlDocument(incidents, report.AssetsOf(inNamespace(in.Assets, ns)), filings, in.Location, in.Now)
		var period []report.Row
		for _, r := range rows {
			if !r.ReportedAt.Before(from) && r.ReportedAt.Before(to) {
				period = append(period, r)
			}
		}
		count = len(period)
		write = writerFor(format, period, map[securityv1alpha1.ReportFormat]func(io.Writer, []report.Row) error{
			securityv1alpha1.ReportCSV: report.WriteCSV, securityv1alpha1.ReportXLSX: report.WriteXLSX, securityv1alpha1.ReportMarkdown: report.WriteMarkdown,
		})
	}
	if write == nil {
		return nil, 0, fmt.Errorf("the %s has no %s form", in.Report.Spec.Report, format)
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return nil, 0, fmt.Errorf("writing the %s: %w", in.Report.Spec.Report, err)
	}
	doc := notify.NewDocument(string(format), Filename(in.Report.Name, format, to), ContentType(format), b.Bytes())
	return doc, count, nil
}

// ArchivedPeriod is the period whose archived incidents a run's document
// covers: the run's, or for the breach register, which is kept whole,
// every one (zero times, open at both ends).
func ArchivedPeriod(spec *securityv1alpha1.IncidentReportSpec, run *securityv1alpha1.ReportRun) (from, to time.Time) {
	if spec.Report == securityv1alpha1.ReportBreachRegister {
		return time.Time{}, time.Time{}
	}
	return run.From.Time, run.To.Time
}

// inNamespace are the objects of namespace ns.
func inNamespace[T any, P interface {
	*T
	GetNamespace() string
}](objects []T, ns string) []T {
	var in []T
	for i := range objects {
		if P(&objects[i]).GetNamespace() == ns {
			in = append(in, objects[i])
		}
	}
	return in
}

// writerFor writes doc with the writer of format, or is nil when the
// document has no such form.
func writerFor[D any](format securityv1alpha1.ReportFormat, doc D, writers map[securityv1alpha1.ReportFormat]func(io.Writer, D) error) func(io.Writer) error {
	w := writers[format]
	if w == nil {
		return nil
	}
	return func(out io.Writer) error { return w(out, doc) }
}

// Record writes what a run's document is into the run.
func Record(run *securityv1alpha1.ReportRun, doc *notify.Document, incidents int, madeAt time.Time) {
	at := metav1.NewTime(madeAt.Truncate(time.Second))
	run.MadeAt = &at
	run.Incidents = int32(incidents)
	run.Format = securityv1alpha1.ReportFormat(doc.Format)
	run.Filename = doc.Filename
	run.SHA256 = doc.SHA256
	run.Size = int64(len(doc.Content))
}

// Filename is the document's file name: the report's name and the run's
// scheduled time in the report's zone, without colons, which some file
// systems refuse.
func Filename(report string, format securityv1alpha1.ReportFormat, to time.Time) string {
	ext := map[securityv1alpha1.ReportFormat]string{
		securityv1alpha1.ReportCSV: "csv", securityv1alpha1.ReportXLSX: "xlsx", securityv1alpha1.ReportMarkdown: "md",
	}[format]
	return report + "-" + to.Format("2006-01-02-1504") + "." + ext
}

// ContentType is the media type of a document in format.
func ContentType(format securityv1alpha1.ReportFormat) string {
	switch format {
	case securityv1alpha1.ReportCSV:
		return "text/csv; charset=utf-8"
	case securityv1alpha1.ReportXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/markdown; charset=utf-8"
}
