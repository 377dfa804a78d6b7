package record

import (
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
	return securityv1alpha1.NotificationRecord{Key: key, Policy: "desk", Receiver: "hook", Channel: "webhook", State: state, Attempts: attempts}
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
				i.Spec.LastChange = &securityv1alpha1.SpecChange{Generation: 2, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{
					{Field: "severity", From: "High", To: "Critical"}, {Field: "assets"},
				}}
			},
			keys: []string{"severity", "assets", "generation"},
			want: "Changed by pat severity=High → Critical assets=now laptop-0142, phone-7 generation=2",
		},
		"two changes between looks: the earlier is known by its result only": {
			before: audited(1),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 4
				i.Spec.LastChange = &securityv1alpha1.SpecChange{Generation: 4, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "title", From: "a", To: "b"}}}
			},
			keys: []string{"generations", "title"},
			want: "ChangeNotObserved by  generations=2-3\nChanged by pat title=a → b",
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
				i.Spec.LastChange = &securityv1alpha1.SpecChange{Generation: 2, By: securityv1alpha1.Attestation{Username: "pat"}, Fields: []securityv1alpha1.FieldChange{{Field: "legalHold"}}}
			},
			keys: []string{"legalHold", "reason"},
			want: "Changed by pat legalHold=placed\nLegalHoldPlaced by pat reason=claim 117",
		},
		"a legal hold released": {
			before: audited(2),
			change: func(i *securityv1alpha1.Incident) {
				i.Generation = 3
				i.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "claim 117", Released: &securityv1alpha1.LegalHoldRelease{Reason: "settled", By: &securityv1alpha1.Attestation{Username: "lee"}}}
				i.Spec.LastChange = &securityv1alpha1.SpecChange{Generation: 3, By: securityv1alpha1.Attestation{Username: "lee"}, Fields: []securityv1alpha1.FieldChange{{Field: "legalHold"}}}
			},
			keys: []string{"reason"},
			want: "Changed by lee\nLegalHoldReleased by lee reason=settled",
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
