package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/retained/retainedtest"
	"github.com/incidentops/incident-operator/internal/translog"
)

const retainedLog = "incident-operator/council"

var (
	// retainedNow is a year after the incidents of March 2026 were
	// archived.
	retainedNow = time.Date(2027, 6, 1, 9, 0, 0, 0, time.UTC)
	march       = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

// retainedIncident is an incident as the cluster held it before retention
// archived it.
func retainedIncident(name, uid, title string, reported time.Time) *securityv1alpha1.Incident {
	inc := &securityv1alpha1.Incident{
		TypeMeta:   metav1.TypeMeta{APIVersion: securityv1alpha1.GroupVersion.String(), Kind: "Incident"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: name, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(reported)},
		Spec:       securityv1alpha1.IncidentSpec{Title: title, Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh},
	}
	delivered := metav1.NewTime(reported.Add(2 * time.Minute))
	inc.Status.Conditions = []metav1.Condition{{Type: securityv1alpha1.ConditionRouted, Status: metav1.ConditionTrue, Reason: "Matched", LastTransitionTime: metav1.NewTime(reported.Add(time.Minute))}}
	inc.Status.Notifications = []securityv1alpha1.NotificationRecord{{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
		Key: "k", Receiver: "security-desk", Channel: "webhook", State: securityv1alpha1.DeliveryDelivered, Attempts: 1, DeliveredAt: &delivered}, Policy: "council"}}
	return inc
}

// retainedFixture is namespace council's log in a directory archive, with
// three incidents archived whole as retention archives them: breach of
// December 2025, archived in February 2026; breach of March 2026 (a new
// incident of the same name) and other, archived in March 2027. The
// entries of the incidents are interleaved in the log.
type retainedFixture struct {
	retainedtest.Archive
	keyFile string
}

func newRetainedFixture(t *testing.T) retainedFixture {
	t.Helper()
	december := time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC)
	entry := func(name, uid, action, actor string, at time.Time) translog.Entry {
		return translog.Entry{Namespace: "council", Incident: name, UID: uid, Action: action, Actor: actor, Operator: actor == "", Time: at}
	}
	batches := [][]translog.Entry{
		{entry("breach", "uid-breach-2025", "Reported", "ann", december), entry("breach", "uid-breach-2025", "Resolved", "ann", december.Add(time.Hour))},
		{entry("breach", "uid-breach", "Reported", "ann", march), entry("other", "uid-other", "Reported", "carl", march.Add(10*time.Second)),
			entry("breach", "uid-breach", "Routed", "", march.Add(time.Minute))},
		{entry("other", "uid-other", "Routed", "", march.Add(70*time.Second)), entry("breach", "uid-breach", "Notified", "", march.Add(2*time.Minute)),
			entry("breach", "uid-breach", "Acknowledged", "bob", march.Add(time.Hour))},
		{entry("other", "uid-other", "Resolved", "carl", march.Add(2*time.Hour)), entry("breach", "uid-breach", "Resolved", "bob", march.Add(3*time.Hour))},
	}
	incident := func(inc *securityv1alpha1.Incident, archived time.Time) retainedtest.Incident {
		evidence := securityv1alpha1.Evidence{ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: inc.Name + "-mail"}, Spec: securityv1alpha1.EvidenceSpec{Incident: inc.Name}}
		return retainedtest.Incident{Object: inc, Evidence: []securityv1alpha1.Evidence{evidence}, Archived: archived}
	}
	f := retainedFixture{keyFile: filepath.Join(t.TempDir(), "audit-log.pub")}
	f.Archive = retainedtest.Write(t, t.TempDir(), retainedLog, batches,
		incident(retainedIncident("breach", "uid-breach-2025", "Laptop left on a train", december), time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC)),
		incident(retainedIncident("breach", "uid-breach", "Payroll export mailed out", march), time.Date(2027, 3, 10, 2, 0, 0, 0, time.UTC)),
		incident(retainedIncident("other", "uid-other", "Tailgating", march.Add(10*time.Second)), time.Date(2027, 3, 11, 2, 0, 0, 0, time.UTC)))
	if err := os.WriteFile(f.keyFile, []byte(f.Verifier+"\norigin incident-operator\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// councilCluster is what the cluster holds a year on: other, which the
// operator archived but had not removed yet, and live, reported in March
// 2026 and kept; breach is gone.
func councilCluster() client.Client {
	other := retainedIncident("other", "uid-other", "Tailgating", march.Add(10*time.Second))
	live := retainedIncident("live", "uid-live", "Phishing mail opened", march.Add(24*time.Hour))
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(other, live).Build()
}

// runCouncil runs kubectl incident args in namespace council against the
// cluster c, a year after the incidents of March 2026 were archived.
func runCouncil(t *testing.T, c client.Client, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runIn(t, c, "council", retainedNow, args...)
}

// The timeline of an incident retention removed from the cluster is read
// from the archive: the newest archived of its name, or the one --uid
// names, from its archived entries and status, saying so on stderr. An
// incident the cluster still holds is read from the cluster.
func TestTimelineReadsAnArchivedIncident(t *testing.T) {
	f := newRetainedFixture(t)
	c := councilCluster()

	out, errOut, err := runCouncil(t, c, "timeline", "breach", "--archive", f.Dir, "--tz", "UTC")
	if err != nil {
		t.Fatalf("timeline: %v\n%s%s", err, out, errOut)
	}
	out = squeeze(out)
	for _, want := range []string{
		"09:00:00.000 UTC audit #0 ann Reported", "09:01:00.000 UTC audit #1 operator Routed", "09:01:00 UTC condition Routed=True Matched",
		"09:02:00.000 UTC audit #2 operator Notified", "09:02:00 UTC delivery Delivered to security-desk by webhook",
		"10:00:00.000 UTC audit #3 bob Acknowledged", "12:00:00.000 UTC audit #4 bob Resolved",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the archived timeline lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "carl") || strings.Count(out, "audit #") != 5 {
		t.Errorf("the archived timeline holds other than its 5 entries:\n%s", out)
	}
	if want := "incident council/breach (uid uid-breach) is not in the cluster: read from the archive " + f.Dir + ", where retention archived it on 2027-03-10T02:00:00Z; its 5 entries check"; !strings.Contains(errOut, want) {
		t.Errorf("timeline does not say the incident was read from the archive, and when it was archived:\n%s", errOut)
	}

	out, errOut, err = runCouncil(t, c, "timeline", "breach", "--archive", f.Dir, "--uid", "uid-breach-2025", "--tz", "UTC", "-o", "json")
	if err != nil || strings.Count(out, `"source": "audit"`) != 2 || !strings.Contains(errOut, "(uid uid-breach-2025)") || !strings.Contains(errOut, "2026-02-01T02:00:00Z") {
		t.Errorf("--uid does not pick the earlier incident of the name: %v\n%s%s", err, out, errOut)
	}
	if _, errOut, err := runCouncil(t, c, "timeline", "breach", "--archive", f.Dir, "--uid", "uid-none"); err == nil || !strings.Contains(errOut, "holds none in incident-operator/council") {
		t.Errorf("an unknown --uid: %v\n%s", err, errOut)
	}
	if _, errOut, err := runCouncil(t, c, "timeline", "breach", "--uid", "uid-breach"); err == nil || !strings.Contains(errOut, "give --archive") {
		t.Errorf("--uid without --archive: %v\n%s", err, errOut)
	}
	// Without the archive, the cluster holds no record of it.
	if _, errOut, err := runCouncil(t, c, "timeline", "breach"); err == nil || !strings.Contains(errOut, "no audit record of one") {
		t.Errorf("timeline without --archive: %v\n%s", err, errOut)
	}
	// other is still in the cluster: the cluster's is shown.
	if _, errOut, err := runCouncil(t, c, "timeline", "other", "--archive", f.Dir); err != nil || strings.Contains(errOut, "read from the archive") {
		t.Errorf("an incident the cluster holds is read from the archive: %v\n%s", err, errOut)
	}
}

// export and summary over a period take the incidents of the period
// retention archived, each once, and say which they read.
func TestDocumentsIncludeArchivedIncidents(t *testing.T) {
	f := newRetainedFixture(t)
	c := councilCluster()
	period := []string{"--from", "2026-03-01", "--to", "2026-04-01", "--tz", "UTC"}

	out, errOut, err := runCouncil(t, c, append([]string{"export", "-o", "csv", "--archive", f.Dir}, period...)...)
	if err != nil {
		t.Fatalf("export: %v\n%s%s", err, out, errOut)
	}
	for title, want := range map[string]int{"Payroll export mailed out": 1, "Tailgating": 1, "Phishing mail opened": 1, "Laptop left on a train": 0} {
		if got := strings.Count(out, title); got != want {
			t.Errorf("the control document holds %q %d times, want %d:\n%s", title, got, want, out)
		}
	}
	if want := "2 incident(s) read from the archive " + f.Dir + ", each checked against the archived log: council/breach (archived 2027-03-10), council/other (archived 2027-03-11)"; !strings.Contains(errOut, want) {
		t.Errorf("export does not say which incidents it read from the archive:\n%s", errOut)
	}
	if out, _, _ := runCouncil(t, c, append([]string{"export", "-o", "csv"}, period...)...); strings.Contains(out, "Payroll export mailed out") {
		t.Errorf("export without --archive reads the archive:\n%s", out)
	}

	file := filepath.Join(t.TempDir(), "summary.md")
	_, errOut, err = runCouncil(t, c, "summary", "--period", "2026-03", "--tz", "UTC", "--archive", f.Dir, "--output-file", file)
	if err != nil || !strings.Contains(errOut, "summary (3 incidents reported) written to") {
		t.Errorf("the summary of March 2026 does not count the archived incident once, and the others: %v\n%s", err, errOut)
	}
	_, errOut, _ = runCouncil(t, c, "summary", "--period", "2026-03", "--tz", "UTC", "--output-file", file)
	if !strings.Contains(errOut, "summary (2 incidents reported)") {
		t.Errorf("the summary without --archive:\n%s", errOut)
	}
	// The archive holds nothing of a period before the incidents.
	_, errOut, err = runCouncil(t, c, "summary", "--period", "2025-11", "--tz", "UTC", "--archive", f.Dir, "--output-file", file)
	if err != nil || !strings.Contains(errOut, "holds no incident of the period") {
		t.Errorf("the summary of May 2026: %v\n%s", err, errOut)
	}
}

// An archived incident whose entries are not what the archived log holds
// is refused by timeline and export, naming it and what failed, and audit
// verify --archive reports it with its UID.
func TestArchivedIncidentsThatDoNotCheckAreRefused(t *testing.T) {
	cases := map[string]struct {
		change func(f retainedFixture, r *archive.Retained)
		says   string
	}{
		"an entry edited": {func(_ retainedFixture, r *archive.Retained) {
			r.Entries[3].Leaf = bytes.Replace(r.Entries[3].Leaf, []byte(`"bob"`), []byte(`"ann"`), 1)
		}, "entry 7 is not the one the log holds at that index"},
		"an entry left out": {func(_ retainedFixture, r *archive.Retained) {
			r.Entries = append(r.Entries[:2:2], r.Entries[3:]...)
		}, "leaves out its entry 6 (Notified) that the log holds"},
		"its last entry cut off": {func(_ retainedFixture, r *archive.Retained) {
			r.Entries = r.Entries[:4]
		}, "its status counts 5 entries of the log up to index 9, but the archive holds 4 of them (cut short?)"},
		"another incident's entry": {func(f retainedFixture, r *archive.Retained) {
			r.Entries = append(r.Entries, f.Records["uid-other"].Entries...)
		}, "is of incident other (uid uid-other)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newRetainedFixture(t)
			f.Tamper(t, "uid-breach", func(r *archive.Retained) { tc.change(f, r) })
			c := councilCluster()
			_, errOut, err := runCouncil(t, c, "timeline", "breach", "--archive", f.Dir)
			if err == nil || !strings.Contains(errOut, "council/breach (uid uid-breach)") || !strings.Contains(errOut, tc.says) {
				t.Errorf("timeline shows an archived incident that does not check: %v\n%s", err, errOut)
			}
			out, errOut, err := runCouncil(t, c, "export", "-o", "csv", "--from", "2026-03-01", "--to", "2026-04-01", "--archive", f.Dir)
			if err == nil || out != "" || !strings.Contains(errOut, "council/breach (uid uid-breach)") || !strings.Contains(errOut, tc.says) {
				t.Errorf("export takes an archived incident that does not check: %v\n%s%s", err, out, errOut)
			}
			out, errOut, err = runOffline(t, "audit", "verify", "--archive", f.Dir, "-n", "council", "--log-key", f.keyFile)
			if err == nil || !strings.Contains(out, "archive incident-operator/council: verified entries 0-9 of 10") ||
				!strings.Contains(out, "archive incident-operator/council: BROKEN: ") || !strings.Contains(out, "council/breach (uid uid-breach)") || !strings.Contains(out, tc.says) {
				t.Errorf("verify --archive does not report the archived incident: %v\n%s%s", err, out, errOut)
			}
		})
	}
}

// squeeze is a table with each run of spaces made one.
func squeeze(table string) string {
	var lines []string
	for line := range strings.Lines(table) {
		lines = append(lines, strings.Join(strings.Fields(line), " "))
	}
	return strings.Join(lines, "\n")
}

// verify --archive checks every archived incident of the range it
// verifies.
func TestAuditVerifyArchiveChecksArchivedIncidents(t *testing.T) {
	f := newRetainedFixture(t)
	out, errOut, err := runOffline(t, "audit", "verify", "--archive", f.Dir, "-n", "council", "--log-key", f.keyFile)
	if err != nil || !strings.Contains(out, "verified entries 0-9 of 10 (4 batches)") || !strings.Contains(out, "; 3 archived incident(s) checked against it") {
		t.Fatalf("verify --archive: %v\n%s%s", err, out, errOut)
	}
	// March 2026 holds the entries of breach and other, not those of the
	// incident of December.
	out, errOut, err = runOffline(t, "audit", "verify", "--archive", f.Dir, "-n", "council", "--log-key", f.keyFile, "--from", "2026-03-01", "--to", "2026-04-01")
	if err != nil || !strings.Contains(out, "; 2 archived incident(s) checked against it") {
		t.Errorf("verify --archive of March: %v\n%s%s", err, out, errOut)
	}
}
