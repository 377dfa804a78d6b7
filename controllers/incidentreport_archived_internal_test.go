package controllers

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/reportrun"
	"github.com/incidentops/incident-operator/internal/retained"
	"github.com/incidentops/incident-operator/internal/retained/retainedtest"
	"github.com/incidentops/incident-operator/internal/translog"
)

// A run of a report, when the operator archives, covers the incidents of
// its period that retention archived and removed from the cluster, read
// from the archive; without an archive, the cluster's alone.
func TestReportRunTakesArchivedIncidents(t *testing.T) {
	ctx := context.Background()
	weekStart := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	slot := weekStart.AddDate(0, 0, 7)
	incident := func(name, title string, reported time.Time) *securityv1alpha1.Incident {
		return &securityv1alpha1.Incident{
			ObjectMeta: metav1.ObjectMeta{Namespace: "desk", Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(reported)},
			Spec:       securityv1alpha1.IncidentSpec{Title: title, Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh},
		}
	}
	gone := incident("gone", "Payroll export mailed out", weekStart.Add(time.Hour))
	earlier := incident("earlier", "Laptop left on a train", weekStart.AddDate(0, -2, 0))
	entry := func(inc *securityv1alpha1.Incident) translog.Entry {
		return translog.Entry{Namespace: "desk", Incident: inc.Name, UID: string(inc.UID), Action: "Reported", Actor: "ann", Time: inc.CreationTimestamp.Time}
	}
	reader := &retained.Reader{Origin: "incident-operator"}
	a := retainedtest.Write(t, t.TempDir(), reader.Log("desk"), [][]translog.Entry{{entry(earlier)}, {entry(gone)}},
		retainedtest.Incident{Object: earlier, Archived: weekStart.AddDate(0, -1, 0)},
		retainedtest.Incident{Object: gone, Archived: slot.AddDate(1, 0, 0)})
	reader.Store = a.Store

	scheme := runtime.NewScheme()
	utilruntime.Must(securityv1alpha1.AddToScheme(scheme))
	live := incident("kept", "Phishing mail opened", weekStart.Add(2*time.Hour))
	report := &securityv1alpha1.IncidentReport{
		ObjectMeta: metav1.ObjectMeta{Namespace: "desk", Name: "weekly", UID: "uid-weekly"},
		Spec: securityv1alpha1.IncidentReportSpec{Report: securityv1alpha1.ReportControlDocument, Format: securityv1alpha1.ReportCSV,
			Schedule: "0 9 * * 1", TimeZone: "UTC"},
	}
	tests := map[string]struct {
		retained RetainedIncidents
		want     []string
		wantNot  []string
	}{
		"with an archive":    {retained: reader, want: []string{"Phishing mail opened", "Payroll export mailed out"}, wantNot: []string{"Laptop left on a train"}},
		"without an archive": {want: []string{"Phishing mail opened"}, wantNot: []string{"Payroll export mailed out"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &IncidentReportReconciler{
				Client:    fake.NewClientBuilder().WithScheme(scheme).WithObjects(live.DeepCopy()).Build(),
				Clock:     clocktesting.NewFakeClock(slot.Add(time.Minute)),
				Documents: &documentCache{},
				Retained:  tc.retained,
			}
			run := reportrun.NewRun(report, slot, weekStart)
			doc, err := r.document(ctx, report, &run, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			content := string(doc.Content)
			for _, title := range tc.want {
				if !strings.Contains(content, title) {
					t.Errorf("the document lacks %q:\n%s", title, content)
				}
			}
			for _, title := range tc.wantNot {
				if strings.Contains(content, title) {
					t.Errorf("the document holds %q:\n%s", title, content)
				}
			}
			if int(run.Incidents) != len(tc.want) {
				t.Errorf("the run counts %d incidents, want %d", run.Incidents, len(tc.want))
			}
		})
	}

	// An archived incident that does not check makes no document.
	a.Tamper(t, "uid-gone", func(r *archive.Retained) {
		r.Entries[0].Leaf = bytes.Replace(r.Entries[0].Leaf, []byte(`"ann"`), []byte(`"bob"`), 1)
	})
	r := &IncidentReportReconciler{
		Client: fake.NewClientBuilder().WithScheme(scheme).Build(), Clock: clocktesting.NewFakeClock(slot), Documents: &documentCache{}, Retained: reader,
	}
	run := reportrun.NewRun(report, slot, weekStart)
	if _, err := r.document(ctx, report, &run, time.UTC); err == nil || !strings.Contains(err.Error(), "desk/gone (uid uid-gone)") ||
		!strings.Contains(err.Error(), "entry 1 is not the one the log holds") {
		t.Errorf("a document was made with an archived incident that does not check: %v", err)
	}
}
