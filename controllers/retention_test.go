package controllers_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/translog"
)

// Once a resolved incident's retention ends, the operator archives it whole
// and removes it and its evidence from the cluster; the log says where it
// went and that it left. An incident under legal hold, one still open, and
// one the archive refuses stay, each saying why.
func TestRetentionArchivesResolvedIncidentsWholeThenRemovesThem(t *testing.T) {
	ns := newNamespace(t)
	receiver := newSink(t)
	webhookSecret(t, ns, "hook", receiver.URL+"/desk")
	policy := webhookPolicy(ns, "desk", 10, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.Retention = &securityv1alpha1.Retention{After: *securityv1alpha1.NewDuration(48 * time.Hour)}
	create(t, policy)
	responder := holding(t, ns, "rita", "incident-responder")
	admin := holding(t, ns, "pat", "incident-policy-admin")

	root := t.TempDir()
	store, err := archive.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	operator.stop()
	t.Cleanup(func() {
		if err := operator.start(); err != nil {
			t.Error(err)
		}
	})
	startScopedOperator(t, ns, controllers.Options{LogKey: logKey, LogOrigin: logKeySetup.Origin, Archive: archive.NewWriter(store, 0, clock.RealClock{}),
		Egress: notify.Egress{AllowLoopback: true}, CheckDestination: allowLoopbackPorts})
	origin := logKeySetup.Origin + "/" + ns

	for _, name := range []string{"old", "held", "open", "refused"} {
		create(t, newIncident(ns, name, securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	}
	ev := &securityv1alpha1.Evidence{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "old-disk"},
		Spec: securityv1alpha1.EvidenceSpec{
			Incident: "old", Kind: securityv1alpha1.EvidenceDiskImage, Description: "image of FIN-0142",
			SHA256:          "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
			StorageLocation: "evidence safe 3", CollectedAt: metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second)),
		},
	}
	if err := responder.Create(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old", "held", "refused"} {
		inc := getIncident(t, ns, name)
		resolved := inc.DeepCopy()
		resolved.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Rita"}
		if err := responder.Patch(t.Context(), resolved, client.MergeFrom(inc)); err != nil {
			t.Fatal(err)
		}
		waitForTrail(t, ns, name, "Resolved by rita")
	}
	waitForTrail(t, ns, "old", "EvidenceAdded by rita")
	for _, name := range []string{"old", "held", "open", "refused"} {
		inc := getIncident(t, ns, name)
		waitForCondition(t, inc, func() []metav1.Condition { return inc.Status.Conditions }, securityv1alpha1.ConditionNotified, metav1.ConditionTrue, "")
	}
	inc := getIncident(t, ns, "held")
	held := inc.DeepCopy()
	held.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "claim 2026/117"}
	if err := admin.Patch(t.Context(), held, client.MergeFrom(inc)); err != nil {
		t.Fatal(err)
	}
	waitForTrail(t, ns, "held", "LegalHoldPlaced by pat")
	// Something else already holds the key the refused incident would be
	// archived at: the archive refuses to write it.
	refused := getIncident(t, ns, "refused")
	blocker := filepath.Join(root, filepath.FromSlash(archive.RetainedKey(origin, "refused", string(refused.UID))))
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, []byte("not this incident"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Two days pass; any change brings the incidents back to be looked at.
	operatorClock.advance(49 * time.Hour)
	t.Cleanup(func() { operatorClock.advance(-49 * time.Hour) })
	for _, name := range []string{"old", "held", "open", "refused"} {
		update(t, getIncident(t, ns, name), func(i *securityv1alpha1.Incident) { i.Labels = map[string]string{"retention": "due"} })
	}

	eventually(t, 30*time.Second, func() error {
		err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "old"}, &securityv1alpha1.Incident{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("the incident whose retention ended is still in the cluster (%v)", err)
		}
		return nil
	})
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(ev), &securityv1alpha1.Evidence{}); !apierrors.IsNotFound(err) {
		t.Errorf("the archived incident's evidence is still in the cluster (%v)", err)
	}

	// The archive holds it whole, and what it says is what the log says.
	kept, err := archive.ReadRetained(t.Context(), store, origin, "old")
	if err != nil || len(kept) != 1 {
		t.Fatalf("the archive holds %d incidents named old (%v), want 1", len(kept), err)
	}
	if len(kept[0].Evidence) != 1 || len(kept[0].Entries) < 4 {
		t.Fatalf("archived with %d evidence records and %d entries, want its evidence and its whole record", len(kept[0].Evidence), len(kept[0].Entries))
	}
	if err := archive.CheckRetained(t.Context(), store, origin, kept[0]); err != nil {
		t.Fatal(err)
	}

	// The log says where it went, then that it left; the archived log,
	// with its last batches, verifies.
	var last []string
	var size int64
	for _, b := range readLog(t, ns) {
		lines, _ := b.Lines()
		for _, line := range lines {
			e, err := translog.ParseEntry(line)
			if err != nil {
				t.Fatal(err)
			}
			if e.UID == kept[0].UID {
				last = append(last, e.Action)
			}
		}
		size = b.End()
	}
	if n := len(last); n < 2 || last[n-2] != string(securityv1alpha1.AuditArchived) || last[n-1] != string(securityv1alpha1.AuditDeleted) {
		t.Errorf("the log of the archived incident ends %v, want Archived then Deleted", last)
	}
	eventually(t, 20*time.Second, func() error {
		res, err := archive.Verify(t.Context(), store, origin, translog.VerifyOptions{Origin: origin, Verifier: logKey.Verifier()}, time.Time{}, operatorClock.Now().Add(time.Hour))
		if err != nil {
			return err
		}
		if res.End != size {
			return fmt.Errorf("the archive verified %d entries; the log holds %d: %s", res.End, size, lastEntries(t, ns, res.End))
		}
		return nil
	})

	// The others stay, and those whose retention ended say why.
	for name, reason := range map[string]string{
		"held":    securityv1alpha1.ReasonRetentionHeld,
		"refused": securityv1alpha1.ReasonRetentionArchiveFailed,
		"open":    "",
	} {
		eventually(t, 20*time.Second, func() error {
			inc := getIncident(t, ns, name)
			c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionRetained)
			switch {
			case reason == "" && c != nil:
				return fmt.Errorf("%s is open, yet says %s: %s", name, c.Reason, c.Message)
			case reason != "" && (c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason):
				return fmt.Errorf("%s says %+v, want Retained=False %s", name, c, reason)
			}
			return nil
		})
	}
	for _, name := range []string{"held", "open"} {
		if kept, err := archive.ReadRetained(t.Context(), store, origin, name); err != nil || len(kept) != 0 {
			t.Errorf("the archive holds %d incidents named %s (%v), want none", len(kept), name, err)
		}
	}
	if len(eventsFor(t, ns, "refused", "ArchiveFailed")) == 0 {
		t.Error("no Warning says the refused incident could not be archived")
	}
}

// lastEntries describes the entries of the namespace's log from index on.
func lastEntries(t *testing.T, ns string, from int64) string {
	var out []string
	for _, b := range readLog(t, ns) {
		lines, _ := b.Lines()
		for j, line := range lines {
			if b.First+int64(j) < from {
				continue
			}
			e, err := translog.ParseEntry(line)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d %s %s by %s %v", b.First+int64(j), e.Incident, e.Action, e.Actor, e.Details))
		}
	}
	return strings.Join(out, "; ")
}
