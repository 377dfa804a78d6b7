package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/translog"
)

// auditCollector is a SIEM's HTTP collector on loopback: it keeps every
// audit line posted to it by namespace and index, with the idempotency key
// it came under, and refuses while told to.
type auditCollector struct {
	mu sync.Mutex
	// refusing answers 500 without keeping anything; keepingButRefusing
	// keeps the lines and answers 500, as a collector that stored them and
	// failed before it answered.
	refusing, keepingButRefusing bool
	posts                        []auditPost
	// kept are the lines kept, by namespace and index, with their keys.
	kept map[string]map[int64]keptLine
	// problems are lines that came again with other bytes or another key.
	problems []string
}

type auditPost struct {
	namespace, key string
	first, last    int64
	accepted       bool
}

type keptLine struct {
	line string
	key  string
}

func newAuditCollector(t *testing.T) (*auditCollector, string) {
	c := &auditCollector{kept: map[string]map[int64]keptLine{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL + "/audit"
}

func (c *auditCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := r.Header.Get(notify.IdempotencyKeyHeader)
	var entries []translog.Entry
	var lines []string
	for line := range bytes.Lines(body) {
		e, err := translog.ParseEntry(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		entries = append(entries, e)
		lines = append(lines, string(line))
	}
	if len(entries) == 0 {
		http.Error(w, "no lines", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	post := auditPost{namespace: entries[0].Namespace, key: key, first: entries[0].Index, last: entries[len(entries)-1].Index}
	post.accepted = !c.refusing && !c.keepingButRefusing
	c.posts = append(c.posts, post)
	if c.refusing {
		http.Error(w, "collector down", http.StatusInternalServerError)
		return
	}
	for i, e := range entries {
		if c.kept[e.Namespace] == nil {
			c.kept[e.Namespace] = map[int64]keptLine{}
		}
		if before, ok := c.kept[e.Namespace][e.Index]; ok && (before.line != lines[i] || before.key != key) {
			c.problems = append(c.problems, fmt.Sprintf("%s entry %d came again as %q under key %q, first as %q under %q", e.Namespace, e.Index, lines[i], key, before.line, before.key))
		}
		c.kept[e.Namespace][e.Index] = keptLine{line: lines[i], key: key}
	}
	if c.keepingButRefusing {
		http.Error(w, "collector failed after storing", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// refuse makes the collector answer 500, keeping the lines or not.
func (c *auditCollector) refuse(keep bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refusing, c.keepingButRefusing = !keep, keep
}

// accept makes the collector take what it is sent.
func (c *auditCollector) accept() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refusing, c.keepingButRefusing = false, false
}

// postsTo are the requests about the namespace's log, accepted or not.
func (c *auditCollector) postsTo(ns string) []auditPost {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []auditPost
	for _, p := range c.posts {
		if p.namespace == ns {
			out = append(out, p)
		}
	}
	return out
}

// lines are the namespace's lines kept, by index.
func (c *auditCollector) lines(ns string) map[int64]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int64]string{}
	for index, l := range c.kept[ns] {
		out[index] = l.line
	}
	return out
}

// acknowledged is how many of the namespace's entries, from its first,
// the collector acknowledged.
func (c *auditCollector) acknowledged(ns string) int64 {
	acked := map[int64]bool{}
	for _, p := range c.postsTo(ns) {
		for i := p.first; p.accepted && i <= p.last; i++ {
			acked[i] = true
		}
	}
	var n int64
	for acked[n] {
		n++
	}
	return n
}

// entries are the entries of an incident the collector kept, in order.
func (c *auditCollector) entries(ns, uid string) []translog.Entry {
	var out []translog.Entry
	lines := c.lines(ns)
	for _, index := range slices.Sorted(maps.Keys(lines)) {
		e, _ := translog.ParseEntry([]byte(strings.TrimSuffix(lines[index], "\n")))
		if e.UID == uid {
			out = append(out, e)
		}
	}
	return out
}

// logLines are the namespace's audit log as stored, line by line with its
// newline, by index; and its batches' keys.
func logLines(t *testing.T, ns string) (map[int64]string, []string) {
	t.Helper()
	lines := map[int64]string{}
	var keys []string
	for _, b := range readLog(t, ns) {
		split, err := b.Lines()
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range split {
			lines[b.First+int64(i)] = string(line) + "\n"
		}
		keys = append(keys, fmt.Sprintf("%s/%d-%d", ns, b.First, b.End()-1))
	}
	return lines, keys
}

// holdsLog says how the collector's lines of the namespace differ from
// the log as stored: each line must be there, byte for byte, under the
// key of the batch that holds it, and no other.
func (c *auditCollector) holdsLog(t *testing.T, ns string) error {
	t.Helper()
	want, keys := logLines(t, ns)
	if len(want) == 0 {
		return fmt.Errorf("namespace %s has no audit log", ns)
	}
	return c.holds(ns, want, keys)
}

func (c *auditCollector) holds(ns string, want map[int64]string, keys []string) error {
	c.mu.Lock()
	problems := slices.Clone(c.problems)
	kept := maps.Clone(c.kept[ns])
	c.mu.Unlock()
	if len(problems) > 0 {
		return fmt.Errorf("the collector was sent conflicting lines: %s", strings.Join(problems, "; "))
	}
	for index, line := range want {
		got, ok := kept[index]
		switch {
		case !ok:
			return fmt.Errorf("the collector lacks entry %d of %s's log (it holds %d of %d)", index, ns, len(kept), len(want))
		case got.line != line:
			return fmt.Errorf("entry %d of %s's log reached the collector as %q, the log holds %q", index, ns, got.line, line)
		case !slices.Contains(keys, got.key):
			return fmt.Errorf("entry %d of %s's log came under key %q, no batch's (%q)", index, ns, got.key, keys)
		}
	}
	for index := range kept {
		if _, ok := want[index]; !ok {
			return fmt.Errorf("the collector holds entry %d of %s, which it was not to be sent", index, ns)
		}
	}
	return nil
}

// exportCursors reads where the export of each namespace resumes.
func exportCursors(t *testing.T) map[string]string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: operatorNamespace, Name: controllers.AuditExportCursors}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data
}

// exportWarnings are the AuditNotExported Warnings about the namespace's
// batches, each with how many times it was recorded.
func exportWarnings(t *testing.T, ns string) []string {
	t.Helper()
	var warnings []string
	for _, b := range readLog(t, ns) {
		for _, e := range eventsFor(t, ns, b.Name(), controllers.EventAuditNotExported) {
			count := int32(1)
			if e.Series != nil {
				count = e.Series.Count
			}
			if e.Regarding.Kind != "AuditBatch" || e.Type != corev1.EventTypeWarning {
				t.Errorf("%s event %s is about a %s, a %s", e.Reason, e.Name, e.Regarding.Kind, e.Type)
			}
			warnings = append(warnings, fmt.Sprintf("%s: %s ×%d", b.Name(), e.Note, count))
		}
	}
	return warnings
}

// exportLag is the gauge of entries the sink has not acknowledged.
func exportLag(t *testing.T) float64 {
	return gaugeValue(t, "incidentops_audit_export_lag_entries")
}

// incidentsNotified creates incidents in a namespace of their own, routed
// to a webhook, and waits until each is notified.
func incidentsNotified(t *testing.T, ns, prefix string, n int) {
	t.Helper()
	receiver := newSink(t)
	webhookSecret(t, ns, prefix+"-desk", receiver.URL)
	create(t, webhookPolicy(ns, prefix+"-desk", 0, prefix+"-desk", securityv1alpha1.PolicyMatch{}))
	for i := range n {
		create(t, newIncident(ns, fmt.Sprintf("%s-%02d", prefix, i), securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	}
	for i := range n {
		waitForTrail(t, ns, fmt.Sprintf("%s-%02d", prefix, i), "Reported by admin", "Routed by operator", "Notified by operator")
	}
}

// deleteIncident deletes an incident and waits until it is gone, its
// deletion recorded.
func deleteIncident(t *testing.T, ns, name string, within time.Duration) {
	t.Helper()
	inc := getIncident(t, ns, name)
	if err := k8sClient.Delete(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() error {
		err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(inc), &securityv1alpha1.Incident{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("incident %s is not gone (%v)", name, err)
	})
}

// The audit sink holds the logs of every namespace exactly as stored,
// batch by batch under keys naming the namespace and index range, the
// entries of incidents deleted since included; nothing waits on it, and
// no incident status records it.
func TestAuditSinkReceivesEveryNamespacesLog(t *testing.T) {
	collector, url := newAuditCollector(t)
	restartWithAuditSink(t, url)
	namespaces := []string{newNamespace(t), newNamespace(t)}
	for _, ns := range namespaces {
		incidentsNotified(t, ns, "inc", 3)
		deleteIncident(t, ns, "inc-01", 10*time.Second)
	}
	eventually(t, 20*time.Second, func() error {
		for _, ns := range namespaces {
			if err := collector.holdsLog(t, ns); err != nil {
				return err
			}
		}
		if lag := exportLag(t); lag != 0 {
			return fmt.Errorf("incidentops_audit_export_lag_entries is %v with every log exported", lag)
		}
		return nil
	})
	for _, ns := range namespaces {
		lines, _ := logLines(t, ns)
		deleted := 0
		for _, line := range lines {
			if strings.Contains(line, `"action":"Deleted"`) {
				deleted++
			}
		}
		if deleted != 1 {
			t.Errorf("%s's log, as exported, records %d deletions, want 1", ns, deleted)
		}
		for _, name := range []string{"inc-00", "inc-02"} {
			if exported := getIncident(t, ns, name).Status.Audit.Exported; exported != nil {
				t.Errorf("%s/%s: status.audit.exported is written (%d)", ns, name, *exported)
			}
		}
	}
}

// A sink that refuses is told once a streak, on the batch it refused, and
// backed off from; once it takes batches again it gets everything, with
// no gap.
func TestAuditSinkRefusingThenRecovering(t *testing.T) {
	collector, url := newAuditCollector(t)
	collector.refuse(false)
	failedBefore := controllers.AuditExportFailures()
	restartWithAuditSink(t, url)
	ns := newNamespace(t)
	incidentsNotified(t, ns, "inc", 3)

	eventually(t, 20*time.Second, func() error {
		if n := len(collector.postsTo(ns)); n < 3 {
			return fmt.Errorf("the sink refused %d of the namespace's batches, want 3 tries", n)
		}
		return nil
	})
	lines, _ := logLines(t, ns)
	if lag := exportLag(t); lag < float64(len(lines)) {
		t.Errorf("incidentops_audit_export_lag_entries is %v while the sink refuses %d entries", lag, len(lines))
	}
	if failed := controllers.AuditExportFailures() - failedBefore; failed < 3 {
		t.Errorf("incidentops_audit_export_failures_total rose by %v after 3 refusals", failed)
	}
	// The refusals are told once, on the batch the sink refused: events/v1
	// would have made repeats a series.
	eventually(t, 5*time.Second, func() error {
		if len(exportWarnings(t, ns)) == 0 {
			return fmt.Errorf("no %s event about the namespace's batches", controllers.EventAuditNotExported)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // a repeat would be recorded by now
	if warnings := exportWarnings(t, ns); len(warnings) != 1 || !strings.HasSuffix(warnings[0], " ×1") {
		t.Errorf("the sink's refusals were told as %q, want once", warnings)
	}

	collector.accept()
	eventually(t, 45*time.Second, func() error {
		if err := collector.holdsLog(t, ns); err != nil {
			return err
		}
		if lag := exportLag(t); lag != 0 {
			return fmt.Errorf("incidentops_audit_export_lag_entries is %v once the sink took everything", lag)
		}
		return nil
	})
}

// An operator that stops records where each namespace's export got to;
// the next one resumes there: nothing acknowledged is sent again, nothing
// not acknowledged is lost, and what the sink kept without acknowledging
// comes again under the same key, for the sink to drop.
func TestAuditExportResumesAfterRestart(t *testing.T) {
	first, url := newAuditCollector(t)
	restartWithAuditSink(t, url)
	ns := newNamespace(t)
	incidentsNotified(t, ns, "before", 2)
	eventually(t, 20*time.Second, func() error { return first.holdsLog(t, ns) })

	// The sink stores what comes next but answers 500.
	first.refuse(true)
	incidentsNotified(t, ns, "during", 2)
	acked := first.acknowledged(ns)
	eventually(t, 20*time.Second, func() error {
		if int64(len(first.lines(ns))) <= acked {
			return fmt.Errorf("the sink kept nothing past the %d entries it acknowledged", acked)
		}
		return nil
	})
	operator.stop()
	cursor, err := strconv.ParseInt(exportCursors(t)[ns], 10, 64)
	if err != nil || cursor != acked {
		t.Fatalf("the stopped operator recorded the cursor %q for %s, want the %d entries the sink acknowledged", exportCursors(t)[ns], ns, acked)
	}

	second, url := newAuditCollector(t)
	restartWithAuditSink(t, url)
	eventually(t, 20*time.Second, func() error {
		// Nothing lost: what the first sink acknowledged, and the second
		// holds, is the whole log.
		want, keys := logLines(t, ns)
		upTo := map[int64]string{}
		for index, line := range want {
			if index >= cursor {
				upTo[index] = line
			}
		}
		if err := second.holds(ns, upTo, keys); err != nil {
			return err
		}
		for index := range cursor {
			if first.lines(ns)[index] != want[index] {
				return fmt.Errorf("entry %d reached neither sink as the log holds it", index)
			}
		}
		return nil
	})
	for _, p := range second.postsTo(ns) {
		if p.first < cursor {
			t.Errorf("the restarted export sent %s, before its cursor %d", p.key, cursor)
		}
	}
	// Sent again: what the first sink kept without acknowledging, under
	// the key it first came under.
	again := 0
	for index, line := range first.lines(ns) {
		if index < cursor {
			continue
		}
		first.mu.Lock()
		firstKey := first.kept[ns][index].key
		first.mu.Unlock()
		second.mu.Lock()
		got, ok := second.kept[ns][index]
		second.mu.Unlock()
		if !ok || got.line != line || got.key != firstKey {
			t.Errorf("entry %d, kept by the first sink under %q, came again as %+v", index, firstKey, got)
		}
		again++
	}
	if again == 0 {
		t.Error("nothing was sent again: the test did not restart with entries unacknowledged")
	}
}

// Batches deleted before the sink took them, as their namespace's
// deletion deletes them, are still sent from memory, and the namespace's
// cursor goes with its log.
func TestAuditBatchesDeletedBeforeExportAreSent(t *testing.T) {
	collector, url := newAuditCollector(t)
	collector.refuse(false)
	restartWithAuditSink(t, url)
	ns := newNamespace(t)
	for i := range 3 {
		create(t, newIncident(ns, fmt.Sprintf("inc-%02d", i), securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	}
	for i := range 3 {
		waitForTrail(t, ns, fmt.Sprintf("inc-%02d", i), "Reported by admin")
	}
	eventually(t, 20*time.Second, func() error {
		if len(collector.postsTo(ns)) == 0 {
			return fmt.Errorf("nothing of the namespace was tried")
		}
		return nil
	})
	want, keys := logLines(t, ns)
	if err := k8sClient.DeleteAllOf(context.Background(), &securityv1alpha1.AuditBatch{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if left := readLog(t, ns); len(left) != 0 {
		t.Fatalf("%d batches left", len(left))
	}
	time.Sleep(time.Second) // the exporter sees the deletions
	collector.accept()
	eventually(t, 45*time.Second, func() error {
		if err := collector.holds(ns, want, keys); err != nil {
			return err
		}
		if cursor, ok := exportCursors(t)[ns]; ok && len(readLog(t, ns)) == 0 {
			return fmt.Errorf("the cursor %s of a namespace whose log went is kept", cursor)
		}
		return nil
	})
}
