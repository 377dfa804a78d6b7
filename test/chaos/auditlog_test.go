package chaos_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
	"github.com/incidentops/incident-operator/internal/translog"
)

// checkAuditLog checks the namespace's audit log after the operator was
// killed again and again: it verifies with the published key (entries and
// batches numbered without a gap, each checkpoint signed and consistent
// with the one before), it holds every entry each incident's status
// counts, and no entry is doubled: each incident is reported once, and
// each notification delivered is recorded once.
func checkAuditLog(t *testing.T, ns string, incidents []securityv1alpha1.Incident) {
	t.Helper()
	ctx := context.Background()
	published := &corev1.ConfigMap{}
	namespace, name, _ := strings.Cut(testenv.AuditLogKeySecret, "/")
	if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, published); err != nil {
		t.Fatalf("reading the published audit log key: %v", err)
	}
	verifier, err := note.NewVerifier(published.Data["verifier"])
	if err != nil {
		t.Fatal(err)
	}
	var list securityv1alpha1.AuditBatchList
	if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b securityv1alpha1.AuditBatch) int { return cmp.Compare(a.Spec.First, b.Spec.First) })
	batches := make([]translog.Batch, 0, len(list.Items))
	for _, obj := range list.Items {
		b, err := translog.ParseStored(obj.Spec.First, obj.Spec.Entries, obj.Spec.Previous, obj.Spec.Root, obj.Spec.Checkpoint)
		if err != nil {
			t.Fatalf("audit batch %s: %v", obj.Name, err)
		}
		batches = append(batches, b)
	}
	opts := translog.VerifyOptions{Origin: published.Data["origin"] + "/" + ns, Verifier: verifier}
	for _, inc := range incidents {
		if inc.Status.Audit == nil || inc.Status.Audit.Log == nil {
			t.Errorf("%s: no position in the audit log", inc.Name)
			continue
		}
		opts.Expect = append(opts.Expect, translog.Expected{Namespace: ns, Incident: inc.Name, UID: string(inc.UID),
			Entries: inc.Status.Audit.Log.Entries, Last: inc.Status.Audit.Log.Last})
	}
	newest, err := translog.Verify(batches, opts)
	if err != nil {
		t.Fatalf("the audit log after the kills: %v", err)
	}
	// An entry appended again after a kill is the same action with the same
	// details; a notification delivered again, its first record lost with
	// the status, is another attempt and says so.
	reported := map[string]int{}
	appended := map[string][]string{}
	for _, b := range batches {
		lines, _ := b.Lines()
		for _, line := range lines {
			e, err := translog.ParseEntry(line)
			if err != nil {
				t.Fatal(err)
			}
			if e.Action == string(securityv1alpha1.AuditReported) {
				reported[e.UID]++
			}
			e.Index, e.Time = 0, time.Time{}
			same, err := e.Line()
			if err != nil {
				t.Fatal(err)
			}
			appended[string(same)] = append(appended[string(same)], string(line))
		}
	}
	for _, inc := range incidents {
		if n := reported[string(inc.UID)]; n != 1 {
			t.Errorf("%s is reported %d times in the log", inc.Name, n)
		}
	}
	doubled := 0
	for _, lines := range appended {
		if len(lines) > 1 {
			doubled++
			if doubled <= 3 {
				t.Errorf("an entry is in the log %d times:\n%s", len(lines), strings.Join(lines, "\n"))
			}
		}
	}
	t.Logf("audit log: %d entries of %d incidents in %d batches, %d checkpoints each consistent with the one before, every entry a status counts in place",
		newest.Size, len(incidents), len(batches), len(batches))
}
