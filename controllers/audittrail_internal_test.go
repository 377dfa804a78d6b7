package controllers

import (
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/record"
)

// After a status write was lost, the entries an earlier append stored are
// not appended again, even those whose long details the chain cut.
func TestNotYetRecorded(t *testing.T) {
	long := strings.Repeat("x", 2000)
	candidates := []record.Entry{
		{Actor: record.Operator, Action: securityv1alpha1.AuditRouted, Details: map[string]string{"policies": "desk@1"}},
		{Actor: record.Operator, Action: securityv1alpha1.AuditNotificationFailed, Details: map[string]string{"error": long}},
		{Actor: record.Operator, Action: securityv1alpha1.AuditNotified, Details: map[string]string{"key": "k2"}},
	}
	keys, err := audit.NewKeyRing(audit.Key{ID: "k1", Secret: make([]byte, audit.MinKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	chain := audit.NewChain("ns", securityv1alpha1.AuditSubject{Kind: "Incident", Name: "i", UID: "u"}, nil)
	var stored []securityv1alpha1.AuditEntry
	for _, e := range candidates[:2] {
		stored = append(stored, chain.Append(keys.Signing(), time.Now(), e.Actor, e.Action, e.Details))
	}
	if stored[1].Details["error"] == long {
		t.Fatal("the chain did not cut the long detail; the test proves nothing")
	}
	tests := map[string]struct {
		entries []record.Entry
		stored  []securityv1alpha1.AuditEntry
		left    int
	}{
		"nothing stored":     {left: 3},
		"two stored":         {stored: stored, left: 1},
		"one of them stored": {stored: stored[1:], left: 2},
		// A change of the spec observed since the lost status write comes
		// first in the new batch; what was stored is still not repeated.
		"after a change": {entries: append([]record.Entry{{Actor: record.Operator, Action: securityv1alpha1.AuditChanged,
			Details: map[string]string{"generation": "5"}}}, candidates...), stored: stored, left: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			entries := candidates
			if tc.entries != nil {
				entries = tc.entries
			}
			if got := notYetRecorded(entries, tc.stored); len(got) != tc.left {
				t.Errorf("%d left, want %d", len(got), tc.left)
			}
		})
	}
}
