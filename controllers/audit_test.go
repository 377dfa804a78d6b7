package controllers_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/notify"
	auditrecord "github.com/incidentops/incident-operator/internal/record"
	"github.com/incidentops/incident-operator/internal/translog"
)

// trailOf reads an incident's entries from its namespace's audit log, as
// stored.
func trailOf(t *testing.T, inc *securityv1alpha1.Incident) []securityv1alpha1.AuditEntry {
	t.Helper()
	entries, err := auditrecord.OfIncident(readLog(t, inc.Namespace), string(inc.UID))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// verify checks the incident's namespace's audit log with the operator's
// public key, and that it holds the entries the incident's status counts.
func verify(inc *securityv1alpha1.Incident, _ []securityv1alpha1.AuditEntry) error {
	var list securityv1alpha1.AuditBatchList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(inc.Namespace)); err != nil {
		return err
	}
	batches := make([]translog.Batch, 0, len(list.Items))
	for i := range list.Items {
		b, err := controllers.BatchOf(&list.Items[i])
		if err != nil {
			return err
		}
		batches = append(batches, b)
	}
	opts := translog.VerifyOptions{Origin: logKeySetup.Origin + "/" + inc.Namespace, Verifier: logKey.Verifier()}
	if inc.Status.Audit != nil && inc.Status.Audit.Log != nil {
		opts.Expect = []translog.Expected{{Namespace: inc.Namespace, Incident: inc.Name, UID: string(inc.UID), Entries: inc.Status.Audit.Log.Entries, Last: inc.Status.Audit.Log.Last}}
	}
	_, err := translog.Verify(batches, opts)
	return err
}

func actions(entries []securityv1alpha1.AuditEntry) []string {
	var out []string
	for _, e := range entries {
		who := e.Actor.Username
		if e.Actor.Operator {
			who = "operator"
		}
		out = append(out, string(e.Action)+" by "+who)
	}
	return out
}

// waitForTrail waits until the incident's trail, verified, holds want (in
// order, among other entries), and returns the incident and its trail.
func waitForTrail(t *testing.T, ns, name string, want ...string) (*securityv1alpha1.Incident, []securityv1alpha1.AuditEntry) {
	t.Helper()
	var inc *securityv1alpha1.Incident
	var entries []securityv1alpha1.AuditEntry
	eventually(t, 20*time.Second, func() error {
		inc = getIncident(t, ns, name)
		entries = trailOf(t, inc)
		if err := verify(inc, entries); err != nil {
			return err
		}
		got := actions(entries)
		i := 0
		for _, a := range got {
			if i < len(want) && a == want[i] {
				i++
			}
		}
		if i < len(want) {
			return fmt.Errorf("trail %q lacks %q", got, want[i])
		}
		return nil
	})
	return inc, entries
}

// An incident's life is in its trail, each step by the account that took
// it, chained and signed: the report, routing, each notification, a change
// of severity with its old and new value, the acknowledgement and the
// resolution. Nobody but the operator can append, and stored entries
// cannot be changed or removed, even by an administrator.
func TestAuditTrailRecordsWhoDidWhat(t *testing.T) {
	ns := newNamespace(t)
	receiver := newSink(t)
	webhookSecret(t, ns, "hook", receiver.URL+"/desk")
	create(t, webhookPolicy(ns, "service-desk", 10, "hook", securityv1alpha1.PolicyMatch{}))
	reporter := holding(t, ns, "rob", "incident-reporter")
	responder := holding(t, ns, "rita", "incident-responder")
	admin := holding(t, ns, "pat", "incident-policy-admin")

	if err := reporter.Create(t.Context(), newIncident(ns, "phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityHigh)); err != nil {
		t.Fatal(err)
	}
	waitForTrail(t, ns, "phish", "Reported by rob", "Routed by operator", "Notified by operator")

	inc := getIncident(t, ns, "phish")
	changed := inc.DeepCopy()
	changed.Spec.Severity = securityv1alpha1.SeverityCritical
	if err := admin.Patch(t.Context(), changed, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	_, entries := waitForTrail(t, ns, "phish", "Reported by rob", "Changed by pat")
	for _, e := range entries {
		if e.Action == securityv1alpha1.AuditChanged && e.Details["severity"] != "High → Critical" {
			t.Errorf("the change records severity %q, want High → Critical", e.Details["severity"])
		}
	}

	inc = getIncident(t, ns, "phish")
	acked := inc.DeepCopy()
	acked.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Rita (service desk)"}
	if err := responder.Patch(t.Context(), acked, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	waitForTrail(t, ns, "phish", "Acknowledged by rita")
	inc = getIncident(t, ns, "phish")
	resolved := inc.DeepCopy()
	resolved.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Rita", Summary: "mail purged"}
	if err := responder.Patch(t.Context(), resolved, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	inc, entries = waitForTrail(t, ns, "phish",
		"Reported by rob", "Routed by operator", "Notified by operator", "Changed by pat", "Acknowledged by rita", "Resolved by rita")

	// Create-only at the API server: nobody changes a batch, not even an
	// administrator.
	batches := readLog(t, ns)
	first := &securityv1alpha1.AuditBatch{}
	if err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: batches[0].Name()}, first); err != nil {
		t.Fatal(err)
	}
	for what, patch := range map[string]string{
		"edit an entry":        `[{"op":"replace","path":"/spec/entries","value":"{}\n"}]`,
		"replace a checkpoint": `[{"op":"replace","path":"/spec/checkpoint","value":"forged"}]`,
		"renumber a batch":     `[{"op":"replace","path":"/spec/first","value":7}]`,
	} {
		err := k8sClient.Patch(t.Context(), first.DeepCopy(), client.RawPatch(types.JSONPatchType, []byte(patch)))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "cannot be changed once written") {
			t.Errorf("an administrator could %s: %v", what, err)
		}
	}
	// A responder may read the log, not write it, even with create and
	// delete rights on it: writing needs the verb append, deleting purge.
	writer := clientAs(t, ns, "mallory", []rbacv1.PolicyRule{{
		APIGroups: []string{securityv1alpha1.GroupVersion.Group}, Resources: []string{"auditbatches"}, Verbs: []string{"get", "create", "update", "patch", "delete"},
	}})
	copied := first.DeepCopy()
	copied.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: translog.BatchName(1 << 40)}
	if err := writer.Create(t.Context(), copied); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "append") {
		t.Errorf("an account without the verb append wrote a batch: %v", err)
	}
	if err := writer.Delete(t.Context(), first.DeepCopy()); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "purge") {
		t.Errorf("an account without the verb purge deleted a batch: %v", err)
	}
	if err := responder.Delete(t.Context(), first.DeepCopy()); !apierrors.IsForbidden(err) {
		t.Errorf("a responder deleted a batch: %v", err)
	}

	// An administrator who can append, but holds no log key, can add a
	// batch that links and hashes as it should; the verifier names its
	// entry by its signature.
	log := translog.NewLog(logKeySetup.Origin+"/"+ns, &translog.MemoryHashes{})
	for _, b := range batches {
		if err := log.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	skey, _, err := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := log.Next([]translog.Entry{{Namespace: ns, Incident: inc.Name, UID: string(inc.UID), Action: "Resolved", Operator: true, Time: time.Now()}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(t.Context(), batchObject(ns, forged)); err != nil {
		t.Fatalf("appending a forged batch as an administrator: %v", err)
	}
	err = verify(inc, nil)
	var broken *translog.BrokenError
	if !errors.As(err, &broken) || broken.Problems[0].Index != forged.First || broken.Problems[0].Check() != "signatures" ||
		!strings.Contains(broken.Problems[0].String(), string(inc.UID)) {
		t.Errorf("the forged entry %d was not named by its signature: %v", forged.First, err)
	}
}

// batchObject is the object that stores b, as the operator stores one.
func batchObject(ns string, b translog.Batch) *securityv1alpha1.AuditBatch {
	return &securityv1alpha1.AuditBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: b.Name()},
		Spec: securityv1alpha1.AuditBatchSpec{
			First: b.First, Entries: string(b.Payload), Checkpoint: string(b.Checkpoint),
			Previous: base64.StdEncoding.EncodeToString(b.Previous[:]), Root: base64.StdEncoding.EncodeToString(b.Root[:]),
		},
	}
}

// A legal hold keeps the incident, its evidence and its trail: the API
// server refuses to delete them or change what was reported, until someone
// allowed to releases it, and the trail names who placed and released it.
// Evidence records who collected it and who recorded each transfer.
func TestLegalHoldAndEvidence(t *testing.T) {
	ns := newNamespace(t)
	receiver := newSink(t)
	webhookSecret(t, ns, "hook", receiver.URL+"/desk")
	create(t, webhookPolicy(ns, "service-desk", 10, "hook", securityv1alpha1.PolicyMatch{}))
	responder := holding(t, ns, "rita", "incident-responder")
	admin := holding(t, ns, "pat", "incident-policy-admin")
	create(t, newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	waitForTrail(t, ns, "laptop", "Reported by admin", "Routed by operator")

	// Rita collects a disk image and hands it to the lab.
	ev := &securityv1alpha1.Evidence{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "disk"},
		Spec: securityv1alpha1.EvidenceSpec{
			Incident: "laptop", Kind: securityv1alpha1.EvidenceDiskImage, Description: "image of FIN-0142",
			SHA256:          "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
			StorageLocation: "evidence safe 3", CollectedAt: metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second)),
			CollectedBy: &securityv1alpha1.Attestation{Username: "chief-executive"},
		},
	}
	if err := responder.Create(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	stored := &securityv1alpha1.Evidence{}
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(ev), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Spec.CollectedBy == nil || stored.Spec.CollectedBy.Username != "rita" {
		t.Fatalf("collectedBy = %+v, want rita, who recorded it", stored.Spec.CollectedBy)
	}
	moved := stored.DeepCopy()
	moved.Spec.Custody = []securityv1alpha1.CustodyTransfer{{Sequence: 0, From: "Rita", To: "Forensics lab", Reason: "imaging", At: metav1.Now()}}
	if err := responder.Patch(t.Context(), moved, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}
	_, entries := waitForTrail(t, ns, "laptop", "EvidenceAdded by rita", "CustodyTransferred by rita")
	for _, e := range entries {
		if e.Action == securityv1alpha1.AuditEvidenceAdded && e.Details["sha256"] != ev.Spec.SHA256 {
			t.Errorf("the trail records the digest %q, want %q", e.Details["sha256"], ev.Spec.SHA256)
		}
	}

	// A responder may not place a hold; a policy admin may.
	inc := getIncident(t, ns, "laptop")
	held := inc.DeepCopy()
	held.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "claim 2026/117"}
	if err := responder.Patch(t.Context(), held, client.MergeFrom(inc)); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "spec.legalHold") {
		t.Fatalf("a responder placed a legal hold: %v", err)
	}
	if err := admin.Patch(t.Context(), held, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	inc, _ = waitForTrail(t, ns, "laptop", "LegalHoldPlaced by pat")
	eventually(t, 10*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(ev), stored); err != nil {
			return err
		}
		if !stored.Status.LegalHold {
			return errors.New("the evidence is not marked held yet")
		}
		return nil
	})

	// While held, nothing of it can be deleted, nor what was reported changed.
	batch := &securityv1alpha1.AuditBatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: readLog(t, ns)[0].Name()}}
	for what, err := range map[string]error{
		"delete the incident":          k8sClient.Delete(t.Context(), inc.DeepCopy()),
		"delete the evidence":          k8sClient.Delete(t.Context(), stored.DeepCopy()),
		"delete a batch of its record": k8sClient.Delete(t.Context(), batch),
		"downgrade the incident": func() error {
			low := inc.DeepCopy()
			low.Spec.Severity = securityv1alpha1.SeverityLow
			return k8sClient.Patch(t.Context(), low, client.MergeFrom(inc))
		}(),
	} {
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "legal hold") {
			t.Errorf("an administrator could %s under legal hold: %v", what, err)
		}
	}
	// Evidence moves only with a custody transfer, held or not.
	elsewhere := stored.DeepCopy()
	elsewhere.Spec.StorageLocation = "car boot"
	if err := k8sClient.Patch(t.Context(), elsewhere, client.MergeFrom(stored)); err == nil || !strings.Contains(err.Error(), "spec.storageLocation") {
		t.Errorf("an administrator could move the evidence without a transfer: %v", err)
	}

	// The CRD keeps a hold in force and its record as they are, whoever asks.
	for what, change := range map[string]func(h *securityv1alpha1.Incident){
		"a legal hold in force can only be released": func(h *securityv1alpha1.Incident) { h.Spec.LegalHold.Reason = "another claim" },
		"legalHold cannot be removed":                func(h *securityv1alpha1.Incident) { h.Spec.LegalHold = nil },
	} {
		// The operator may write the incident between the read and the
		// update; only the refusal counts, not a conflict.
		var err error = apierrors.NewConflict(securityv1alpha1.GroupVersion.WithResource("incidents").GroupResource(), "laptop", nil)
		for try := 0; try < 5 && apierrors.IsConflict(err); try++ {
			inc = getIncident(t, ns, "laptop")
			changed := inc.DeepCopy()
			change(changed)
			err = k8sClient.Update(t.Context(), changed)
		}
		if err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("want %q, got %v", what, err)
		}
	}
	// Evidence rules: digital items need their digest; a digest and a
	// transfer cannot change; transfers cannot be removed or skipped.
	paper := ev.DeepCopy()
	paper.Name, paper.Spec.SHA256 = "undigested", ""
	if err := responder.Create(t.Context(), paper); err == nil || !strings.Contains(err.Error(), "sha256 is required") {
		t.Errorf("digital evidence without a digest: %v", err)
	}
	for what, change := range map[string]func(e *securityv1alpha1.Evidence){
		"cannot be changed once recorded":      func(e *securityv1alpha1.Evidence) { e.Spec.SHA256 = strings.Repeat("0", 64) },
		"a custody transfer cannot be changed": func(e *securityv1alpha1.Evidence) { e.Spec.Custody[0].To = "someone else" },
		"custody is append-only":               func(e *securityv1alpha1.Evidence) { e.Spec.Custody = nil },
		"custody transfers must be numbered from 0": func(e *securityv1alpha1.Evidence) {
			e.Spec.Custody = append(e.Spec.Custody, securityv1alpha1.CustodyTransfer{Sequence: 5, From: "a", To: "b", Reason: "r", At: metav1.Now()})
		},
		"sha256 cannot be added or removed once recorded": func(e *securityv1alpha1.Evidence) { e.Spec.SHA256 = "" },
	} {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(ev), stored); err != nil {
			t.Fatal(err)
		}
		changed := stored.DeepCopy()
		change(changed)
		if err := k8sClient.Update(t.Context(), changed); err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("want %q, got %v", what, err)
		}
	}

	// Released by the policy admin, with the release in the trail; then the
	// incident can go, its trail ends with the deletion and outlives it.
	inc = getIncident(t, ns, "laptop")
	released := inc.DeepCopy()
	released.Spec.LegalHold.Released = &securityv1alpha1.LegalHoldRelease{Reason: "claim settled"}
	if err := admin.Patch(t.Context(), released, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	inc, _ = waitForTrail(t, ns, "laptop", "LegalHoldPlaced by pat", "LegalHoldReleased by pat")
	rewritten := inc.DeepCopy()
	rewritten.Spec.LegalHold.Released.Reason = "another reason"
	if err := k8sClient.Update(t.Context(), rewritten); err == nil || !strings.Contains(err.Error(), "a release cannot be changed") {
		t.Errorf("a release was rewritten: %v", err)
	}
	if err := k8sClient.Delete(t.Context(), inc.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(inc), &securityv1alpha1.Incident{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("the incident is still there: %v", err)
		}
		return nil
	})
	entries = trailOf(t, inc)
	if last := entries[len(entries)-1]; last.Action != securityv1alpha1.AuditDeleted {
		t.Errorf("the deleted incident's entries end with %s, not its deletion", last.Action)
	}
	if err := verify(&securityv1alpha1.Incident{ObjectMeta: inc.ObjectMeta}, nil); err != nil {
		t.Errorf("the log of the deleted incident does not verify: %v", err)
	}
}

// Marking an incident for forensic investigation tells Internal Audit at
// once, through a policy that matches on it, although the incident was
// routed before; and every entry reaches the external audit sink as the
// log holds it.
func TestForensicInvestigationAndAuditSink(t *testing.T) {
	ns := newNamespace(t)
	lines, url := newAuditCollector(t)
	restartWithAuditSink(t, url)

	receiver := newSink(t)
	webhookSecret(t, ns, "desk", receiver.URL+"/desk")
	webhookSecret(t, ns, "audit", receiver.URL+"/internal-audit")
	create(t, webhookPolicy(ns, "service-desk", 10, "desk", securityv1alpha1.PolicyMatch{}))
	internalAudit := webhookPolicy(ns, "internal-audit", 100, "audit", securityv1alpha1.PolicyMatch{Expression: "incident.spec.?forensicInvestigation.orValue(false)"})
	create(t, internalAudit)
	create(t, newIncident(ns, "malware", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	waitForTrail(t, ns, "malware", "Reported by admin", "Routed by operator", "Notified by operator")
	if n := toldAt(receiver, "/internal-audit"); n != 0 {
		t.Fatalf("Internal Audit was told %d times before the incident was marked", n)
	}

	inc := getIncident(t, ns, "malware")
	marked := inc.DeepCopy()
	marked.Spec.ForensicInvestigation = true
	if err := k8sClient.Patch(t.Context(), marked, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	inc, _ = waitForTrail(t, ns, "malware", "Changed by admin", "ForensicInvestigation by admin", "Routed by operator", "Notified by operator")
	if n := toldAt(receiver, "/internal-audit"); n != 1 {
		t.Errorf("Internal Audit was told %d times, want once", n)
	}

	// The sink holds every entry, each line the log's own leaf.
	eventually(t, 10*time.Second, func() error {
		inc = getIncident(t, ns, "malware")
		logged := trailOf(t, inc)
		got := lines.entries(ns, string(inc.UID))
		if len(got) != len(logged) {
			return fmt.Errorf("the sink holds %d of the incident's %d entries", len(got), len(logged))
		}
		for i, e := range got {
			if e.Action != string(logged[i].Action) || e.Actor != logged[i].Actor.Username || !e.Time.Equal(logged[i].Time.Time) {
				return fmt.Errorf("the sink's entry %d is %+v, the log's %+v", i, e, logged[i])
			}
		}
		return lines.holdsLog(t, ns)
	})
}

// restartWithAuditSink restarts the test operator streaming audit entries
// to url, and back without a sink when the test ends.
func restartWithAuditSink(t *testing.T, url string) {
	t.Helper()
	operator.stop()
	operator.auditSink = &notify.WebhookTarget{URL: url}
	if err := operator.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		operator.stop()
		operator.auditSink = nil
		if err := operator.start(); err != nil {
			t.Fatal(err)
		}
	})
}

// toldAt counts the deliveries a sink received at path.
func toldAt(s *testSink, path string) int {
	n := 0
	for _, d := range s.Deliveries() {
		if d.Path == path {
			n++
		}
	}
	return n
}
