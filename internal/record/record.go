// Package record decides what an incident's audit trail must say about a
// change the operator observed: the entries a change of spec, of status or
// of evidence calls for, in the order they happened. It holds no keys and
// writes nothing; internal/audit chains and signs what it returns.
package record

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Entry is one audit entry before it is chained.
type Entry struct {
	Actor   securityv1alpha1.AuditActor
	Action  securityv1alpha1.AuditAction
	Details map[string]string
}

// Operator is the actor of what the operator itself did.
var Operator = securityv1alpha1.AuditActor{Operator: true}

// Person is the actor an attestation names; nobody when it is missing (an
// object stored before the admission policies were installed).
func Person(a *securityv1alpha1.Attestation) securityv1alpha1.AuditActor {
	if a == nil {
		return securityv1alpha1.AuditActor{}
	}
	return securityv1alpha1.AuditActor{Username: a.Username, Groups: slices.Clone(a.Groups)}
}

// Reported is the trail's first entry: who reported the incident and what
// they reported.
func Reported(incident *securityv1alpha1.Incident) Entry {
	spec := &incident.Spec
	details := map[string]string{
		"title":    spec.Title,
		"category": string(spec.Category),
		"severity": string(spec.Severity),
		"type":     incidentType(spec.Type),
		"reporter": spec.Reporter.Name,
		"impact":   Impact(spec.Impact),
	}
	setIf(details, "department", spec.Reporter.Department)
	if spec.Reporter.LineManager != nil {
		details["lineManager"] = spec.Reporter.LineManager.Name
	}
	setIf(details, "assets", strings.Join(spec.Assets, ", "))
	if spec.ReportedAt != nil {
		details["reportedAt"] = stamp(spec.ReportedAt.Time)
	}
	if spec.AwareAt != nil {
		details["awareAt"] = stamp(spec.AwareAt.Time)
	}
	if spec.ForensicInvestigation {
		details["forensicInvestigation"] = "true"
	}
	return Entry{Actor: Person(spec.ReportedBy), Action: securityv1alpha1.AuditReported, Details: details}
}

// Impact writes the impact flags that are set, in a fixed order.
func Impact(impact securityv1alpha1.Impact) string {
	var set []string
	for _, flag := range []struct {
		name string
		on   bool
	}{
		{"personalData", impact.PersonalData}, {"specialCategoryData", impact.SpecialCategoryData},
		{"socialCare", impact.SocialCare}, {"itRelated", impact.ITRelated},
		{"serviceAffecting", impact.ServiceAffecting}, {"businessCritical", impact.BusinessCritical},
		{"securityBreach", impact.SecurityBreach},
	} {
		if flag.on {
			set = append(set, flag.name)
		}
	}
	if impact.DataSubjects != nil {
		set = append(set, "dataSubjects="+strconv.Itoa(int(*impact.DataSubjects)))
	}
	if len(set) == 0 {
		return "none"
	}
	return strings.Join(set, ", ")
}

// Observe returns the entries for what changed between two looks at an
// incident: before is the status the trail last recorded (nil before the
// incident was first recorded), after the incident as the operator now
// leaves it. Spec changes are known from spec.lastChange, which the API
// server writes with the account that made them; status changes are the
// operator's own work.
func Observe(before *securityv1alpha1.IncidentStatus, after *securityv1alpha1.Incident) []Entry {
	var entries []Entry
	observed := int64(0)
	if before != nil && before.Audit != nil {
		observed = before.Audit.ObservedGeneration
	}
	if observed == 0 {
		entries = append(entries, Reported(after))
	} else if after.Generation > observed {
		entries = append(entries, specChanges(observed, after)...)
	}
	var old securityv1alpha1.IncidentStatus
	if before != nil {
		old = *before
	}
	entries = append(entries, statusChanges(&old, after)...)
	return entries
}

// specChanges records the latest change of the spec, and says so when
// earlier changes were overwritten before the operator saw them.
func specChanges(observed int64, incident *securityv1alpha1.Incident) []Entry {
	var entries []Entry
	change := incident.Spec.LastChange
	known := change != nil && change.Generation == incident.Generation
	unseenTo := incident.Generation
	if known {
		unseenTo = change.Generation - 1
	}
	if unseenTo > observed {
		entries = append(entries, Entry{
			Actor:  securityv1alpha1.AuditActor{},
			Action: securityv1alpha1.AuditChangeNotObserved,
			Details: map[string]string{
				"generations": generations(observed+1, unseenTo),
				"note":        "the spec changed again before the operator saw this change; who made it is in the API server's audit log",
			},
		})
	}
	if !known {
		return entries
	}
	actor := Person(&change.By)
	details := map[string]string{"generation": strconv.FormatInt(change.Generation, 10)}
	for _, f := range change.Fields {
		details[f.Field] = fieldValue(f, incident)
	}
	entries = append(entries, Entry{Actor: actor, Action: securityv1alpha1.AuditChanged, Details: details})
	for _, f := range change.Fields {
		if e, ok := recordMade(f.Field, incident); ok {
			entries = append(entries, e)
		}
	}
	return entries
}

// fieldValue is "old → new" where the API server kept both, and the new
// value read from the spec where it kept only the field's name.
func fieldValue(f securityv1alpha1.FieldChange, incident *securityv1alpha1.Incident) string {
	if f.From != "" || f.To != "" {
		return f.From + " → " + f.To
	}
	spec := &incident.Spec
	switch f.Field {
	case "assets":
		return "now " + orNone(strings.Join(spec.Assets, ", "))
	case "impact":
		return "now " + Impact(spec.Impact)
	case "description":
		return fmt.Sprintf("now %d characters", len(spec.Description))
	case "acknowledgement", "resolution", "authorityNotification":
		return "recorded"
	case "legalHold":
		if spec.LegalHold.Active() {
			return "placed"
		}
		return "released"
	}
	return "changed"
}

// recordMade is the entry for a record a change made, beside the Changed
// entry: a legal hold placed or released, or a forensic investigation.
// Acknowledgement, resolution and the authority report are recorded from
// the status, so that a change the operator did not see is still recorded.
func recordMade(field string, incident *securityv1alpha1.Incident) (Entry, bool) {
	spec := &incident.Spec
	switch field {
	case "legalHold":
		hold := spec.LegalHold
		if hold == nil {
			return Entry{}, false
		}
		if hold.Released != nil {
			return Entry{Actor: Person(hold.Released.By), Action: securityv1alpha1.AuditLegalHoldReleased,
				Details: map[string]string{"reason": hold.Released.Reason, "heldFor": hold.Reason}}, true
		}
		return Entry{Actor: Person(hold.PlacedBy), Action: securityv1alpha1.AuditLegalHoldPlaced,
			Details: map[string]string{"reason": hold.Reason}}, true
	case "forensicInvestigation":
		if !spec.ForensicInvestigation || spec.LastChange == nil {
			return Entry{}, false
		}
		return Entry{Actor: Person(&spec.LastChange.By), Action: securityv1alpha1.AuditForensicInvestigation,
			Details: map[string]string{"forensicInvestigation": "true"}}, true
	}
	return Entry{}, false
}

// statusChanges records the operator's work and the records it took in.
func statusChanges(before *securityv1alpha1.IncidentStatus, incident *securityv1alpha1.Incident) []Entry {
	after := &incident.Status
	spec := &incident.Spec
	var entries []Entry
	// The records people made come first: the notices they cause follow.
	if before.AcknowledgedAt == nil && after.AcknowledgedAt != nil && spec.Acknowledgement != nil {
		ack := spec.Acknowledgement
		details := map[string]string{"by": ack.By, "at": stamp(after.AcknowledgedAt.Time)}
		setIf(details, "note", ack.Note)
		entries = append(entries, Entry{Actor: Person(ack.AttestedBy), Action: securityv1alpha1.AuditAcknowledged, Details: details})
	}
	if before.ResolvedAt == nil && after.ResolvedAt != nil && spec.Resolution != nil {
		res := spec.Resolution
		details := map[string]string{"by": res.By, "state": string(res.State), "at": stamp(after.ResolvedAt.Time)}
		setIf(details, "summary", res.Summary)
		entries = append(entries, Entry{Actor: Person(res.AttestedBy), Action: securityv1alpha1.AuditResolved, Details: details})
	}
	if _, ok := becameTrue(before.Conditions, after.Conditions, securityv1alpha1.ConditionAuthorityNotified, ""); ok && spec.AuthorityNotification != nil {
		n := spec.AuthorityNotification
		details := map[string]string{"notifiedAt": stamp(n.NotifiedAt.Time)}
		setIf(details, "reference", n.Reference)
		setIf(details, "delayReason", n.DelayReason)
		if after.AuthorityNotificationDeadline != nil {
			details["deadline"] = stamp(after.AuthorityNotificationDeadline.Time)
			details["onTime"] = strconv.FormatBool(!n.NotifiedAt.After(after.AuthorityNotificationDeadline.Time))
		}
		entries = append(entries, Entry{Actor: Person(n.RecordedBy), Action: securityv1alpha1.AuditAuthorityNotified, Details: details})
	}
	if joined := joinedPolicies(before.Policies, after.Policies); len(joined) > 0 {
		entries = append(entries, Entry{Actor: Operator, Action: securityv1alpha1.AuditRouted,
			Details: map[string]string{"policies": strings.Join(joined, ", ")}})
	}
	entries = append(entries, deliveries(before.Notifications, after.Notifications)...)
	if after.EscalationLevel > before.EscalationLevel {
		entries = append(entries, Entry{Actor: Operator, Action: securityv1alpha1.AuditEscalated,
			Details: map[string]string{"level": strconv.Itoa(int(after.EscalationLevel))}})
	}
	for _, c := range []struct {
		condition string
		action    securityv1alpha1.AuditAction
	}{
		{securityv1alpha1.ConditionSLAAtRisk, securityv1alpha1.AuditSLAAtRisk},
		{securityv1alpha1.ConditionSLABreached, securityv1alpha1.AuditSLABreached},
		{securityv1alpha1.ConditionAuthorityDeadlineMissed, securityv1alpha1.AuditAuthorityDeadlineMissed},
	} {
		if e, ok := becameTrue(before.Conditions, after.Conditions, c.condition, c.action); ok {
			entries = append(entries, e)
		}
	}
	return entries
}

// joinedPolicies names the policies, with the generation that routed the
// incident, that after holds and before did not. A cluster policy is named
// with its kind: a namespace policy of the same name may have routed the
// namespace's incidents before the cluster policy was made.
func joinedPolicies(before, after []securityv1alpha1.PolicyReference) []string {
	var joined []string
	for _, p := range after {
		if !slices.ContainsFunc(before, func(b securityv1alpha1.PolicyReference) bool { return b.Name == p.Name }) {
			name := p.Name
			if p.Kind == securityv1alpha1.KindClusterEscalationPolicy {
				name = p.Kind + "/" + name
			}
			joined = append(joined, name+"@"+strconv.FormatInt(p.Generation, 10))
		}
	}
	return joined
}

// deliveries records each notification delivered, each failed attempt and
// each one given up, in the order of the records.
func deliveries(before, after []securityv1alpha1.NotificationRecord) []Entry {
	previous := make(map[string]securityv1alpha1.NotificationRecord, len(before))
	for _, n := range before {
		previous[n.Key] = n
	}
	var entries []Entry
	for _, n := range after {
		old, seen := previous[n.Key]
		if seen && old.State == n.State && old.Attempts == n.Attempts {
			continue
		}
		var action securityv1alpha1.AuditAction
		switch n.State {
		case securityv1alpha1.DeliveryDelivered:
			action = securityv1alpha1.AuditNotified
		case securityv1alpha1.DeliveryFailed:
			action = securityv1alpha1.AuditNotificationFailed
		case securityv1alpha1.DeliveryAbandoned:
			action = securityv1alpha1.AuditNotificationAbandoned
		default:
			continue
		}
		details := map[string]string{
			"key": n.Key, "policy": n.Policy, "level": strconv.Itoa(int(n.Level)),
			"receiver": n.Receiver, "channel": n.Channel, "attempts": strconv.Itoa(int(n.Attempts)),
		}
		setIf(details, "role", string(n.Role))
		setIf(details, "notice", n.Notice)
		setIf(details, "standsInFor", n.StandsInFor)
		setIf(details, "fallbackFor", n.FallbackFor)
		setIf(details, "error", n.LastError)
		entries = append(entries, Entry{Actor: Operator, Action: action, Details: details})
	}
	return entries
}

// becameTrue is the entry for a condition that turned True.
func becameTrue(before, after []metav1.Condition, conditionType string, action securityv1alpha1.AuditAction) (Entry, bool) {
	now := meta.FindStatusCondition(after, conditionType)
	if now == nil || now.Status != metav1.ConditionTrue {
		return Entry{}, false
	}
	if was := meta.FindStatusCondition(before, conditionType); was != nil && was.Status == metav1.ConditionTrue {
		return Entry{}, false
	}
	return Entry{Actor: Operator, Action: action, Details: map[string]string{"reason": now.Reason, "message": now.Message}}, true
}

// Evidence returns the entries for evidence and custody transfers the
// trail has not recorded yet, and what the trail records after them.
func Evidence(recorded []securityv1alpha1.EvidenceRecord, items []securityv1alpha1.Evidence) ([]Entry, []securityv1alpha1.EvidenceRecord) {
	known := make(map[string]securityv1alpha1.EvidenceRecord, len(recorded))
	for _, r := range recorded {
		known[r.Name] = r
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b securityv1alpha1.Evidence) int {
		return cmp.Or(a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	var entries []Entry
	next := slices.Clone(recorded)
	for _, ev := range sorted {
		r, seen := known[ev.Name]
		if seen && r.UID != string(ev.UID) {
			seen = false // deleted and recorded again under the same name
		}
		if !seen {
			r = securityv1alpha1.EvidenceRecord{Name: ev.Name, UID: string(ev.UID)}
			details := map[string]string{
				"evidence": ev.Name, "kind": string(ev.Spec.Kind), "description": ev.Spec.Description,
				"storageLocation": ev.Spec.StorageLocation, "collectedAt": stamp(ev.Spec.CollectedAt.Time),
			}
			setIf(details, "sha256", ev.Spec.SHA256)
			entries = append(entries, Entry{Actor: Person(ev.Spec.CollectedBy), Action: securityv1alpha1.AuditEvidenceAdded, Details: details})
		}
		transfers := slices.Clone(ev.Spec.Custody)
		slices.SortFunc(transfers, func(a, b securityv1alpha1.CustodyTransfer) int { return int(a.Sequence - b.Sequence) })
		for _, t := range transfers {
			if t.Sequence < r.Transfers {
				continue
			}
			details := map[string]string{
				"evidence": ev.Name, "transfer": strconv.Itoa(int(t.Sequence)),
				"from": t.From, "to": t.To, "at": stamp(t.At.Time), "reason": t.Reason,
			}
			setIf(details, "storageLocation", t.StorageLocation)
			entries = append(entries, Entry{Actor: Person(t.AttestedBy), Action: securityv1alpha1.AuditCustodyTransferred, Details: details})
			r.Transfers = t.Sequence + 1
		}
		next = upsert(next, r)
	}
	return entries, next
}

func upsert(records []securityv1alpha1.EvidenceRecord, r securityv1alpha1.EvidenceRecord) []securityv1alpha1.EvidenceRecord {
	for i := range records {
		if records[i].Name == r.Name {
			records[i] = r
			return records
		}
	}
	return append(records, r)
}

// Deleted is the last entry of a deleted incident's trail.
func Deleted(incident *securityv1alpha1.Incident) Entry {
	details := map[string]string{"note": "the incident was deleted; who deleted it is in the API server's audit log"}
	if incident.DeletionTimestamp != nil {
		details["at"] = stamp(incident.DeletionTimestamp.Time)
	}
	return Entry{Actor: securityv1alpha1.AuditActor{}, Action: securityv1alpha1.AuditDeleted, Details: details}
}

func generations(from, to int64) string {
	if from == to {
		return strconv.FormatInt(from, 10)
	}
	return strconv.FormatInt(from, 10) + "-" + strconv.FormatInt(to, 10)
}

func incidentType(t securityv1alpha1.IncidentType) string {
	if t == "" {
		return "Incident"
	}
	return string(t)
}

func setIf(details map[string]string, key, value string) {
	if value != "" {
		details[key] = value
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
