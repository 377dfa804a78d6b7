package record

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

var at = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func incident() *securityv1alpha1.Incident {
	return &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: "laptop", Generation: 1},
		Spec: securityv1alpha1.IncidentSpec{
			Title: "Laptop left on a train", Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh,
			Reporter:   securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Priya"}, Department: "Finance"},
			ReportedBy: &securityv1alpha1.Attestation{Username: "rob"},
			Assets:     []string{"laptop-0142"},
			Impact:     securityv1alpha1.Impact{PersonalData: true, ITRelated: true},
		},
	}
}

// audited is the status the trail recorded up to generation.
func audited(generation int64) *securityv1alpha1.IncidentStatus {
	return &securityv1alpha1.IncidentStatus{Audit: &securityv1alpha1.AuditStatus{ObservedGeneration: generation}}
}

func delivery(key string, state securityv1alpha1.DeliveryState, attempts int32) securityv1alpha1.NotificationRecord {
	return securityv1alpha1.NotificationRecord{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: key, Receiver: "hook", Channel: "webhook", State: state, Attempts: attempts}, Policy: "desk"}
}

func condition(t string) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: "Because"}
}

// summary writes entries as "Action by actor {key=value ...}" lines, with
// only the details named in keys.
func summary(entries []Entry, keys ...string) string {
	var lines []string
	for _, e := range entries {
		who := e.Actor.Username
		if e.Actor.Operator {
			who = "operator"
		}
		line := string(e.Action) + " by " + who
		for _, k := range keys {
			if v, ok := e.Details[k]; ok {
				line += fmt.Sprintf(" %s=%s", k, v)
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func TestObserve(t *testing.T) {
	tests := map[string]struct {
		before *securityv1alpha1.IncidentStatus
		change func(*securityv1alpha1.Incident)
		keys   []string
		want   string
	}{
		"first look: reported, routed and notified": {
			change: func(i *securityv1alpha1.Incident) {
				i.Status.Policies = []securityv1alpha1.PolicyReference{{Name: "desk", Generation: 3}}
				i.Status.Notifications = []securityv1alpha1.NotificationRecord{delivery("k1", securityv1alpha1.DeliveryDelivered, 1), delivery("k2", securityv1alpha1.DeliveryPending, 0)}
			},
			keys: []string{"severity", "impact", "policies", "key"},
			want: "Reported by rob severity=High impact=personalData, itRelated\nRouted by operator policies=desk@3\nNotified by operator key=k1",
		},
		"a cluster policy is named with its kind": {
			change: func(i *securityv1alpha1.Incident) {
				i.Status.Policies = []securityv1alpha1.PolicyReference{{Name: "dept", Generation: 2}, {Kind: securityv1alpha1.KindClusterEscalationPolicy, Name: "audit", Generation: 1}}
			},
			keys: []string{"policies"},
			want: "Reported by rob\nRouted by operator policies=dept@2, ClusterEscalationPolicy/audit@1",
		},
		"a change with its old and new values, by its author": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 2
				i.Spec.Assets = []string{"laptop-0142", "phone-7"}
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 2, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{
					{Field: "severity", From: "High", To: "Critical"}, {Field: "assets", From: "laptop-0142", To: "laptop-0142, phone-7"},
				}}}
			},
			keys: []string{"severity", "assets", "generation"},
			want: "Changed by pat severity=High → Critical assets=laptop-0142 → laptop-0142, phone-7 generation=2",
		},
		"two changes between looks: each with its author and values": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 3
				i.Spec.Changes = []securityv1alpha1.SpecChange{
					{Generation: 2, By: securityv1alpha1.Attestation{Username: "rita"}, Fields: []securityv1alpha1.FieldChange{{Field: "reporter.lineManager.email", From: "lm@example.org", To: "other@example.net"}}},
					{Generation: 3, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "title", From: "a", To: "b"}}},
				}
			},
			keys: []string{"reporter.lineManager.email", "title"},
			want: "Changed by rita reporter.lineManager.email=lm@example.org → other@example.net\nChanged by pat title=a → b",
		},
		"a long text keeps both digests and the new text": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 2
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 2, By: securityv1alpha1.Attestation{Username: "rita"}, Fields: []securityv1alpha1.FieldChange{
					{Field: "description", From: strings.Repeat("old ", 100), To: "new text"}}}}
			},
			keys: []string{"description", "description.fromSHA256", "description.toSHA256"},
			want: "Changed by rita description=now new text description.fromSHA256=" + sha(strings.Repeat("old ", 100)) + " description.toSHA256=" + sha("new text"),
		},
		"changes that fell out of spec.changes are named by generation": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 5
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 4, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "title", From: "a", To: "b"}}}}
			},
			keys: []string{"generations", "title"},
			want: "ChangeNotObserved by  generations=2-3\nChanged by pat title=a → b\nChangeNotObserved by  generations=5",
		},
		"a change whose record was overwritten is not attributed": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) { i.Generation = 2 },
			keys:   []string{"generations"},
			want:   "ChangeNotObserved by  generations=2",
		},
		"acknowledged before the notices it causes": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Rita", AttestedBy: &securityv1alpha1.Attestation{Username: "rita"}}
				i.Status.AcknowledgedAt = &metav1.Time{Time: at}
				i.Status.Notifications = []securityv1alpha1.NotificationRecord{delivery("k3", securityv1alpha1.DeliveryDelivered, 1)}
			},
			keys: []string{"by", "key"},
			want: "Acknowledged by rita by=Rita\nNotified by operator key=k3",
		},
		"each failed attempt, abandonment and delivery once": {
			before: &securityv1alpha1.IncidentStatus{Audit: &securityv1alpha1.AuditStatus{ObservedGeneration: 1}, Notifications: []securityv1alpha1.NotificationRecord{
				delivery("k1", securityv1alpha1.DeliveryFailed, 1), delivery("k2", securityv1alpha1.DeliveryFailed, 2), delivery("k3", securityv1alpha1.DeliveryDelivered, 1),
			}},
			change: func(i *securityv1alpha1.Incident) {
				i.Status.Notifications = []securityv1alpha1.NotificationRecord{
					delivery("k1", securityv1alpha1.DeliveryFailed, 2), delivery("k2", securityv1alpha1.DeliveryAbandoned, 3), delivery("k3", securityv1alpha1.DeliveryDelivered, 1),
				}
			},
			keys: []string{"key", "attempts"},
			want: "NotificationFailed by operator key=k1 attempts=2\nNotificationAbandoned by operator key=k2 attempts=3",
		},
		"escalation and deadlines, once each": {
			before: &securityv1alpha1.IncidentStatus{Audit: &securityv1alpha1.AuditStatus{ObservedGeneration: 1}, Conditions: []metav1.Condition{condition(securityv1alpha1.ConditionSLAAtRisk)}},
			change: func(i *securityv1alpha1.Incident) {
				i.Status.EscalationLevel = 1
				i.Status.Conditions = []metav1.Condition{condition(securityv1alpha1.ConditionSLAAtRisk), condition(securityv1alpha1.ConditionSLABreached), condition(securityv1alpha1.ConditionAuthorityDeadlineMissed)}
			},
			keys: []string{"level"},
			want: "Escalated by operator level=1\nSLABreached by operator\nAuthorityDeadlineMissed by operator",
		},
		"a legal hold placed, by whoever placed it": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 2
				i.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "claim 117", PlacedBy: &securityv1alpha1.Attestation{Username: "pat"}}
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 2, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "legalHold", To: "placed: claim 117"}}}}
			},
			keys: []string{"legalHold", "reason"},
			want: "Changed by pat legalHold= → placed: claim 117\nLegalHoldPlaced by pat reason=claim 117",
		},
		"a legal hold released": {
			before: audited(2),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 3
				i.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "claim 117", Released: &securityv1alpha1.LegalHoldRelease{Reason: "settled", By: &securityv1alpha1.Attestation{Username: "lee"}}}
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 3, By: securityv1alpha1.Attestation{Username: "lee"}, Fields: []securityv1alpha1.FieldChange{{Field: "legalHold", From: "placed: claim 117", To: "released: settled"}}}}
			},
			keys: []string{"reason"},
			want: "Changed by lee\nLegalHoldReleased by lee reason=settled",
		},
		"a hold placed and released before the operator looked: both recorded": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 3
				i.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "claim 117", Released: &securityv1alpha1.LegalHoldRelease{Reason: "settled"}}
				i.Spec.Changes = []securityv1alpha1.SpecChange{
					{Generation: 2, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "legalHold", To: "placed: claim 117"}}},
					{Generation: 3, By: securityv1alpha1.Attestation{Username: "lee"}, Fields: []securityv1alpha1.FieldChange{{Field: "legalHold", From: "placed: claim 117", To: "released: settled"}}},
				}
			},
			keys: []string{"reason"},
			want: "Changed by pat\nLegalHoldPlaced by pat reason=claim 117\nChanged by lee\nLegalHoldReleased by lee reason=settled",
		},
		"first look after changes: what was reported, then each change": {
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 2
				i.Spec.Title = "b"
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 2, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "title", From: "a", To: "b"}}}}
			},
			keys: []string{"title"},
			want: "Reported by rob title=a\nChanged by pat title=a → b",
		},
		"imported records say so": {
			change: func(i *securityv1alpha1.Incident) {
				i.Spec.Imported = &securityv1alpha1.Import{By: &securityv1alpha1.Attestation{Username: "ian"}, Records: []string{"resolution"}}
				i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Ian", AttestedBy: &securityv1alpha1.Attestation{Username: "ian"}}
				i.Status.ResolvedAt = &metav1.Time{Time: at}
			},
			keys: []string{"imported", "state"},
			want: "Reported by rob imported=resolution\nResolved by ian imported=true state=Resolved",
		},
		"nothing changed, nothing recorded": {
			before: audited(1),
			change: func(*securityv1alpha1.Incident) {},
			want:   "",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inc := incident()
			tc.change(inc)
			if got := summary(Observe(tc.before, inc), tc.keys...); got != tc.want {
				t.Errorf("entries:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestEvidence(t *testing.T) {
	item := func(name, uid string, transfers ...string) securityv1alpha1.Evidence {
		ev := securityv1alpha1.Evidence{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(at)},
			Spec: securityv1alpha1.EvidenceSpec{Kind: securityv1alpha1.EvidenceFile, SHA256: strings.Repeat("a", 64),
				CollectedBy: &securityv1alpha1.Attestation{Username: "rita"}},
		}
		for i, to := range transfers {
			ev.Spec.Custody = append(ev.Spec.Custody, securityv1alpha1.CustodyTransfer{Sequence: int32(i), To: to, AttestedBy: &securityv1alpha1.Attestation{Username: "rita"}})
		}
		return ev
	}
	tests := map[string]struct {
		recorded []securityv1alpha1.EvidenceRecord
		items    []securityv1alpha1.Evidence
		want     string
		after    string
	}{
		"new evidence with its transfers": {
			items: []securityv1alpha1.Evidence{item("disk", "u1", "lab", "court")},
			want:  "EvidenceAdded by rita evidence=disk\nCustodyTransferred by rita evidence=disk to=lab\nCustodyTransferred by rita evidence=disk to=court",
			after: "disk/u1/2",
		},
		"only the transfers not recorded yet": {
			recorded: []securityv1alpha1.EvidenceRecord{{Name: "disk", UID: "u1", Transfers: 1}},
			items:    []securityv1alpha1.Evidence{item("disk", "u1", "lab", "court")},
			want:     "CustodyTransferred by rita evidence=disk to=court",
			after:    "disk/u1/2",
		},
		"evidence recorded again under a recorded name": {
			recorded: []securityv1alpha1.EvidenceRecord{{Name: "disk", UID: "old", Transfers: 3}},
			items:    []securityv1alpha1.Evidence{item("disk", "u2")},
			want:     "EvidenceAdded by rita evidence=disk",
			after:    "disk/u2/0",
		},
		"nothing new": {
			recorded: []securityv1alpha1.EvidenceRecord{{Name: "disk", UID: "u1", Transfers: 1}},
			items:    []securityv1alpha1.Evidence{item("disk", "u1", "lab")},
			after:    "disk/u1/1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			entries, records := Evidence(tc.recorded, tc.items)
			if got := summary(entries, "evidence", "to"); got != tc.want {
				t.Errorf("entries:\n%s\nwant:\n%s", got, tc.want)
			}
			var after []string
			for _, r := range records {
				after = append(after, fmt.Sprintf("%s/%s/%d", r.Name, r.UID, r.Transfers))
			}
			if got := strings.Join(after, ","); got != tc.after {
				t.Errorf("records %s, want %s", got, tc.after)
			}
		})
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// One notification retried a hundred times against a failing receiver
// leaves a handful of entries, not one per attempt.
func TestRetriesAreBoundedInTheTrail(t *testing.T) {
	var entries, before []securityv1alpha1.NotificationRecord
	recorded := 0
	for attempt := int32(1); attempt <= 100; attempt++ {
		entries = []securityv1alpha1.NotificationRecord{delivery("k1", securityv1alpha1.DeliveryFailed, attempt)}
		recorded += len(deliveries(before, entries))
		before = entries
	}
	recorded += len(deliveries(before, []securityv1alpha1.NotificationRecord{delivery("k1", securityv1alpha1.DeliveryDelivered, 101)}))
	// Attempts 1, 2, 4, 8, 16, 32 and 64 fail on the record; the 101st
	// delivers.
	if recorded != 8 {
		t.Errorf("100 failed attempts and a delivery made %d entries; want 8", recorded)
	}
}
