package controllers_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/notify"
)

// trailOf reads an incident's whole audit trail as stored.
func trailOf(t *testing.T, inc *securityv1alpha1.Incident) []securityv1alpha1.AuditEntry {
	t.Helper()
	subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
	var trails []securityv1alpha1.AuditTrail
	for segment := int64(0); ; segment++ {
		trail := securityv1alpha1.AuditTrail{}
		err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: inc.Namespace, Name: audit.ObjectName(subject, segment)}, &trail)
		if apierrors.IsNotFound(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		trails = append(trails, trail)
	}
	entries, err := audit.Entries(trails)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// verify checks an incident's trail with the operator's keys, against the
// head its status holds.
func verify(inc *securityv1alpha1.Incident, entries []securityv1alpha1.AuditEntry) error {
	subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
	opts := audit.VerifyOptions{Keys: auditKeys}
	if inc.Status.Audit != nil {
		opts.Head = inc.Status.Audit.Head
	}
	_, err := audit.Verify(inc.Namespace, subject, entries, opts)
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

	// Append-only at the API server.
	subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
	name := audit.ObjectName(subject, 0)
	trail := &securityv1alpha1.AuditTrail{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for what, patch := range map[string]string{
		"edit an entry":   `[{"op":"replace","path":"/spec/entries/1/action","value":"Resolved"}]`,
		"remove an entry": `[{"op":"remove","path":"/spec/entries/1"}]`,
		"skip a sequence": fmt.Sprintf(`[{"op":"add","path":"/spec/entries/-","value":%s}]`, forgedEntry(t, entries, 5)),
	} {
		err := k8sClient.Patch(t.Context(), trail, client.RawPatch(types.JSONPatchType, []byte(patch)))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.entries") {
			t.Errorf("an administrator could %s: %v", what, err)
		}
	}
	// A responder may read the trail, not write it, even with update
	// rights on it: appending needs the verb append.
	writer := clientAs(t, ns, "mallory", []rbacv1.PolicyRule{{
		APIGroups: []string{securityv1alpha1.GroupVersion.Group}, Resources: []string{"audittrails"}, Verbs: []string{"get", "update", "patch", "delete"},
	}})
	err := writer.Patch(t.Context(), trail, client.RawPatch(types.JSONPatchType,
		fmt.Appendf(nil, `[{"op":"add","path":"/spec/entries/-","value":%s}]`, forgedEntry(t, entries, 0))))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "append") {
		t.Errorf("an account without the verb append appended: %v", err)
	}
	if err := writer.Delete(t.Context(), trail); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "purge") {
		t.Errorf("an account without the verb purge deleted a trail: %v", err)
	}
	if err := responder.Delete(t.Context(), trail); !apierrors.IsForbidden(err) {
		t.Errorf("a responder deleted a trail: %v", err)
	}

	// An administrator who can append, but holds no signing key, can add an
	// entry whose hash chains; the verifier names it by its signature.
	last := entries[len(entries)-1]
	chain := audit.NewChain(ns, subject, &securityv1alpha1.AuditHead{Sequence: last.Sequence, Hash: last.Hash, KeyID: last.KeyID, Signature: last.Signature})
	data, err := json.Marshal(chain.Append(audit.Key{ID: last.KeyID, Secret: []byte("not-the-operator-key-but-32-bytes")}, time.Now(),
		securityv1alpha1.AuditActor{Operator: true}, securityv1alpha1.AuditResolved, nil))
	if err != nil {
		t.Fatal(err)
	}
	forged := string(data)
	if err := k8sClient.Patch(t.Context(), trail, client.RawPatch(types.JSONPatchType,
		fmt.Appendf(nil, `[{"op":"add","path":"/spec/entries/-","value":%s}]`, forged))); err != nil {
		t.Fatalf("appending a forged entry as an administrator: %v", err)
	}
	tampered := trailOf(t, inc)
	err = verify(inc, tampered)
	var broken *audit.BrokenError
	if !errors.As(err, &broken) || broken.Sequence != int64(len(entries)) || !strings.Contains(broken.Reason, "signature") {
		t.Errorf("the forged entry %d was not named: %v", len(entries), err)
	}
}

// forgedEntry is a well-formed entry following entries, with a hash that
// chains, signed with a key the operator does not have.
func forgedEntry(t *testing.T, entries []securityv1alpha1.AuditEntry, skip int64) string {
	t.Helper()
	last := entries[len(entries)-1]
	e := securityv1alpha1.AuditEntry{
		Sequence: last.Sequence + 1 + skip, Time: metav1.NewMicroTime(time.Now().Truncate(time.Microsecond)),
		Actor: securityv1alpha1.AuditActor{Operator: true}, Action: securityv1alpha1.AuditResolved,
		PreviousHash: last.Hash, Hash: strings.Repeat("a", 64), KeyID: last.KeyID, Signature: strings.Repeat("b", 64),
	}
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
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
	subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
	trail := &securityv1alpha1.AuditTrail{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: audit.ObjectName(subject, 0)}}
	for what, err := range map[string]error{
		"delete the incident": k8sClient.Delete(t.Context(), inc.DeepCopy()),
		"delete the evidence": k8sClient.Delete(t.Context(), stored.DeepCopy()),
		"delete the trail":    k8sClient.Delete(t.Context(), trail),
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
		inc = getIncident(t, ns, "laptop")
		changed := inc.DeepCopy()
		change(changed)
		if err := k8sClient.Update(t.Context(), changed); err == nil || !strings.Contains(err.Error(), what) {
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
	eventually(t, 10*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(trail), trail); err != nil {
			return err
		}
		if trail.Status.LegalHold {
			return errors.New("the trail is still marked held")
		}
		return nil
	})
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
	if _, err := audit.Verify(ns, subject, entries, audit.VerifyOptions{Keys: auditKeys, Sealed: true}); err != nil {
		t.Errorf("the trail of the deleted incident does not verify as sealed: %v", err)
	}
	// Cut its last entry (as someone with the key-less power to rewrite
	// the trail would): the seal is gone, and the verifier says so.
	if _, err := audit.Verify(ns, subject, entries[:len(entries)-1], audit.VerifyOptions{Keys: auditKeys, Sealed: true}); err == nil {
		t.Error("a deleted incident's trail without its Deleted entry verified")
	}
}

// Marking an incident for forensic investigation tells Internal Audit at
// once, through a policy that matches on it, although the incident was
// routed before; and every entry reaches the external audit sink, whose
// lines verify as the same chain.
func TestForensicInvestigationAndAuditSink(t *testing.T) {
	ns := newNamespace(t)
	lines := &lineSink{}
	srv := httptest.NewServer(lines)
	t.Cleanup(srv.Close)
	restartWithAuditSink(t, srv.URL+"/audit")

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

	// The sink holds every entry, and its lines verify as the chain.
	eventually(t, 10*time.Second, func() error {
		inc = getIncident(t, ns, "malware")
		got := lines.entries(string(inc.UID))
		subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
		if _, err := audit.Verify(ns, subject, got, audit.VerifyOptions{Keys: auditKeys, Head: inc.Status.Audit.Head}); err != nil {
			return fmt.Errorf("the sink's copy (%d entries) does not verify: %w", len(got), err)
		}
		if exported := inc.Status.Audit.Exported; exported == nil || *exported != inc.Status.Audit.Head.Sequence {
			return fmt.Errorf("status.audit.exported = %v, want %d", exported, inc.Status.Audit.Head.Sequence)
		}
		return nil
	})
}

// lineSink keeps the audit lines posted to it, deduplicated by sequence
// as a SIEM would by the idempotency key.
type lineSink struct {
	mu    sync.Mutex
	lines map[string]map[int64]securityv1alpha1.AuditEntry
}

func (s *lineSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines == nil {
		s.lines = map[string]map[int64]securityv1alpha1.AuditEntry{}
	}
	dec := json.NewDecoder(r.Body)
	for dec.More() {
		var line struct {
			Subject securityv1alpha1.AuditSubject `json:"subject"`
			Entry   securityv1alpha1.AuditEntry   `json:"entry"`
		}
		if err := dec.Decode(&line); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if s.lines[line.Subject.UID] == nil {
			s.lines[line.Subject.UID] = map[int64]securityv1alpha1.AuditEntry{}
		}
		s.lines[line.Subject.UID][line.Entry.Sequence] = line.Entry
	}
}

func (s *lineSink) entries(uid string) []securityv1alpha1.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []securityv1alpha1.AuditEntry
	for _, e := range s.lines[uid] {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b securityv1alpha1.AuditEntry) int { return int(a.Sequence - b.Sequence) })
	return out
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
