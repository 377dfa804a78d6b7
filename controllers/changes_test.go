package controllers_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Two people change an incident within milliseconds of each other, before
// the operator can look between the two: the trail keeps both changes,
// each with its author and its old and new value, because the record of a
// change is written by the write itself (spec.changes), not inferred from
// what the operator later sees.
func TestQuickSuccessiveChangesKeepEachAuthor(t *testing.T) {
	ns := newNamespace(t)
	rita := holding(t, ns, "rita", "incident-responder")
	sam := holding(t, ns, "sam", "incident-responder")
	rob := holding(t, ns, "rob", "incident-reporter")
	// A policy routes and notifies each incident, so that each has
	// notifications, and an acknowledgement notice, to record.
	desk := newSink(t)
	webhookSecret(t, ns, "desk", desk.URL)
	create(t, webhookPolicy(ns, "desk", 0, "desk", securityv1alpha1.PolicyMatch{}))
	const tries = 10
	for i := range tries {
		name := fmt.Sprintf("race-%02d", i)
		if err := rob.Create(t.Context(), newIncident(ns, name, securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)); err != nil {
			t.Fatal(err)
		}
		waitForTrail(t, ns, name, "Reported by rob", "Routed by operator", "Notified by operator")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, edit := range []struct {
			c      client.Client
			change func(*securityv1alpha1.Incident)
		}{
			{rita, func(inc *securityv1alpha1.Incident) { inc.Spec.Description = "Found on the finance share." }},
			{sam, func(inc *securityv1alpha1.Incident) { inc.Spec.Title = "Ransomware on the finance share" }},
		} {
			wg.Go(func() {
				time.Sleep(time.Duration(j) * time.Millisecond)
				errs[j] = patchRetrying(t, edit.c, ns, name, edit.change)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var entries []securityv1alpha1.AuditEntry
		waitForTrail(t, ns, name, "Reported by rob")
		entries = settledTrail(t, ns, name, 2)
		var changed []string
		for _, e := range entries {
			switch e.Action {
			case securityv1alpha1.AuditChangeNotObserved:
				t.Errorf("%s: the trail says a change was not observed: %+v", name, e.Details)
			case securityv1alpha1.AuditChanged:
				switch {
				case e.Actor.Username == "rita" && strings.HasPrefix(e.Details["description"], " → Found on"):
				case e.Actor.Username == "sam" && e.Details["title"] == "Test incident "+name+" → Ransomware on the finance share":
				default:
					t.Errorf("%s: a change with the wrong author or values: %s %+v", name, e.Actor.Username, e.Details)
				}
				changed = append(changed, e.Actor.Username)
			}
		}
		if len(changed) != 2 {
			t.Errorf("%s: %d Changed entries (%v); want rita's and sam's", name, len(changed), changed)
		}
		// Both acknowledge at once: one acknowledgement is made, and the
		// trail records it once, and each notification once.
		var acks sync.WaitGroup
		for _, c := range []client.Client{rita, sam} {
			acks.Go(func() {
				_ = patchRetrying(t, c, ns, name, func(inc *securityv1alpha1.Incident) {
					if inc.Spec.Acknowledgement == nil {
						inc.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Service desk"}
					}
				})
			})
		}
		acks.Wait()
		eventually(t, 20*time.Second, func() error {
			entries = settledTrail(t, ns, name, 3)
			for _, e := range entries {
				if e.Action == securityv1alpha1.AuditAcknowledged {
					return nil
				}
			}
			return fmt.Errorf("%s: the acknowledgement is not yet recorded", name)
		})
		seen := map[string]int{}
		for _, e := range entries {
			switch {
			case e.Action == securityv1alpha1.AuditChanged && e.Details["acknowledgement"] != "":
				seen["the acknowledgement's change"]++
			case e.Action == securityv1alpha1.AuditAcknowledged:
				seen["Acknowledged"]++
			case e.Action == securityv1alpha1.AuditNotified:
				seen["Notified "+e.Details["key"]]++
			}
		}
		for what, n := range seen {
			if n != 1 {
				t.Errorf("%s: %s recorded %d times: %s", name, what, n, describe(entries))
			}
		}
	}
}

// patchRetrying applies change to the stored incident as c, again on a
// conflict, as kubectl does.
func patchRetrying(t *testing.T, c client.Client, ns, name string, change func(*securityv1alpha1.Incident)) error {
	for {
		inc := getIncident(t, ns, name)
		before := inc.DeepCopy()
		change(inc)
		err := c.Patch(t.Context(), inc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if err == nil || !strings.Contains(err.Error(), "the object has been modified") {
			return err
		}
	}
}

// settledTrail waits until the incident's trail records the spec's
// current generation and holds at least changes Changed entries.
func settledTrail(t *testing.T, ns, name string, changes int) []securityv1alpha1.AuditEntry {
	t.Helper()
	var entries []securityv1alpha1.AuditEntry
	eventually(t, 20*time.Second, func() error {
		inc := getIncident(t, ns, name)
		entries = trailOf(t, inc)
		if err := verify(inc, entries); err != nil {
			return err
		}
		if inc.Status.Audit == nil || inc.Status.Audit.ObservedGeneration != inc.Generation {
			return fmt.Errorf("generation %d not yet recorded", inc.Generation)
		}
		n := 0
		for _, e := range entries {
			if e.Action == securityv1alpha1.AuditChanged {
				n++
			}
		}
		if n < changes {
			return fmt.Errorf("%d Changed entries; want %d", n, changes)
		}
		return nil
	})
	return entries
}

func describe(entries []securityv1alpha1.AuditEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "\n  #%d %s %s %v", e.Sequence, e.Action, e.Actor.Username, e.Details)
	}
	return b.String()
}
