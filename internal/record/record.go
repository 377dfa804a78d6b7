// Package record decides what an incident's audit trail must say about a
// change the operator observed: the entries a change of spec, of status or
// of evidence calls for, in the order they happened, and reads an
// incident's entries back from the audit log. It holds no keys and writes
// nothing; the operator stores what it returns in the namespace's log.
package record

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/translog"
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
		"type":     string(incident.IncidentType()),
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
	if spec.Imported != nil {
		details["imported"] = orNone(strings.Join(spec.Imported.Records, ", "))
	}
	if spec.LegalHold.Active() {
		details["legalHold"] = spec.LegalHold.Reason
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
// leaves it. Spec changes are known from spec.changes, which the API
// server writes with the account that made them; status changes are the
// operator's own work.
func Observe(before *securityv1alpha1.IncidentStatus, after *securityv1alpha1.Incident) []Entry {
	var entries []Entry
	observed := int64(0)
	if before != nil && before.Audit != nil {
		observed = before.Audit.ObservedGeneration
	}
	if observed == 0 {
		// Changes made before the operator first looked follow what was
		// reported, which they are undone to find.
		entries = append(entries, Reported(AsReported(after)))
		observed = 1
	}
	if after.Generation > observed {
		entries = append(entries, specChanges(observed, after)...)
	}
	var old securityv1alpha1.IncidentStatus
	if before != nil {
		old = *before
	}
	entries = append(entries, statusChanges(&old, after)...)
	return entries
}

// specChanges records each change of the spec since the generation the
// trail last observed, from spec.changes, which the API server writes as
// each change is made. Changes that fell out of spec.changes before the
// operator saw them are named by their generations.
func specChanges(observed int64, incident *securityv1alpha1.Incident) []Entry {
	byGeneration := make(map[int64]*securityv1alpha1.SpecChange, len(incident.Spec.Changes))
	for i := range incident.Spec.Changes {
		byGeneration[incident.Spec.Changes[i].Generation] = &incident.Spec.Changes[i]
	}
	var entries []Entry
	unseenFrom := int64(0)
	for generation := observed + 1; generation <= incident.Generation; generation++ {
		change, known := byGeneration[generation]
		if !known {
			if unseenFrom == 0 {
				unseenFrom = generation
			}
			continue
		}
		if unseenFrom != 0 {
			entries = append(entries, changeNotObserved(unseenFrom, generation-1))
			unseenFrom = 0
		}
		entries = append(entries, changed(change))
		for _, f := range change.Fields {
			if e, ok := recordMade(f.Field, change); ok {
				entries = append(entries, e)
			}
		}
	}
	if unseenFrom != 0 {
		entries = append(entries, changeNotObserved(unseenFrom, incident.Generation))
	}
	return entries
}

func changeNotObserved(from, to int64) Entry {
	return Entry{
		Actor:  securityv1alpha1.AuditActor{},
		Action: securityv1alpha1.AuditChangeNotObserved,
		Details: map[string]string{
			"generations": generations(from, to),
			"note":        fmt.Sprintf("more than %d changes followed this one before the operator recorded them; who made it is in the API server's audit log", securityv1alpha1.SpecChangesKept),
		},
	}
}

// changed is the entry of one change: each field with its old and new
// value, or, where the two do not fit one detail, the SHA-256 of each and
// the start of the new value.
func changed(change *securityv1alpha1.SpecChange) Entry {
	details := map[string]string{"generation": strconv.FormatInt(change.Generation, 10)}
	for _, f := range change.Fields {
		if short := f.From + " → " + f.To; len(short) <= ShortChange {
			details[f.Field] = short
			continue
		}
		details[f.Field] = "now " + f.To
		details[f.Field+".fromSHA256"] = digest(f.From)
		details[f.Field+".toSHA256"] = digest(f.To)
	}
	return Entry{Actor: Person(&change.By), Action: securityv1alpha1.AuditChanged, Details: details}
}

// ShortChange is the longest "old → new" kept whole in a Changed entry;
// a longer change keeps both values' digests and the new value's start.
const ShortChange = 256

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// recordMade is the entry for a record a change made, beside the Changed
// entry: a legal hold placed or released, or a forensic investigation,
// read from the change itself, so that a hold placed and released before
// the operator looked is recorded as both. Acknowledgement, resolution and
// the authority report are recorded from the status, with their details.
func recordMade(field string, change *securityv1alpha1.SpecChange) (Entry, bool) {
	var to string
	for _, f := range change.Fields {
		if f.Field == field {
			to = f.To
		}
	}
	actor := Person(&change.By)
	switch field {
	case "legalHold":
		if reason, ok := strings.CutPrefix(to, HoldReleased); ok {
			return Entry{Actor: actor, Action: securityv1alpha1.AuditLegalHoldReleased, Details: map[string]string{"reason": reason}}, true
		}
		if reason, ok := strings.CutPrefix(to, HoldPlaced); ok {
			return Entry{Actor: actor, Action: securityv1alpha1.AuditLegalHoldPlaced, Details: map[string]string{"reason": reason}}, true
		}
	case "forensicInvestigation":
		if to == "true" {
			return Entry{Actor: actor, Action: securityv1alpha1.AuditForensicInvestigation,
				Details: map[string]string{"forensicInvestigation": "true"}}, true
		}
	}
	return Entry{}, false
}

// HoldPlaced and HoldReleased begin the value spec.changes gives a legal
// hold (config/admission), followed by the reason.
const (
	HoldPlaced   = "placed: "
	HoldReleased = "released: "
)

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
		markImported(details, spec.Imported, "acknowledgement")
		entries = append(entries, Entry{Actor: Person(ack.AttestedBy), Action: securityv1alpha1.AuditAcknowledged, Details: details})
	}
	if before.ResolvedAt == nil && after.ResolvedAt != nil && spec.Resolution != nil {
		res := spec.Resolution
		details := map[string]string{"by": res.By, "state": string(res.State), "at": stamp(after.ResolvedAt.Time)}
		setIf(details, "summary", res.Summary)
		markImported(details, spec.Imported, "resolution")
		entries = append(entries, Entry{Actor: Person(res.AttestedBy), Action: securityv1alpha1.AuditResolved, Details: details})
	}
	if _, ok := becameTrue(before.Conditions, after.Conditions, securityv1alpha1.ConditionAuthorityNotified, ""); ok && spec.AuthorityNotification != nil {
		n := spec.AuthorityNotification
		details := map[string]string{"notifiedAt": stamp(n.NotifiedAt.Time)}
		setIf(details, "reference", n.Reference)
		setIf(details, "delayReason", n.DelayReason)
		markImported(details, spec.Imported, "authorityNotification")
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
	return append(entries, obligationChanges(before.Obligations, after.Obligations)...)
}

// obligationChanges are the entries for what the operator decided of the
// incident's obligations on its own: a stage that missed its deadline, and
// stages closed as not applicable (the incident was a false positive or a
// duplicate) or not required because the stage they follow is not. What
// people decided is recorded from their Filings (Filings).
func obligationChanges(before, after []securityv1alpha1.ObligationStatus) []Entry {
	var entries []Entry
	for _, o := range after {
		var old *securityv1alpha1.ObligationStatus
		for i := range before {
			if before[i].Regime == o.Regime && before[i].Stage == o.Stage {
				old = &before[i]
			}
		}
		details := map[string]string{"regime": o.Regime, "stage": o.Stage, "citation": o.Citation}
		if o.Missed && (old == nil || !old.Missed) {
			if o.Deadline != nil {
				details["deadline"] = stamp(o.Deadline.Time)
			}
			entries = append(entries, Entry{Actor: Operator, Action: securityv1alpha1.AuditObligationMissed, Details: details})
			continue
		}
		closed := o.State == securityv1alpha1.ObligationNotApplicable ||
			(o.State == securityv1alpha1.ObligationNotRequired && old != nil && old.State == securityv1alpha1.ObligationWaiting)
		if closed && (old == nil || old.State != o.State) {
			details["state"] = string(o.State)
			entries = append(entries, Entry{Actor: Operator, Action: securityv1alpha1.AuditObligationClosed, Details: details})
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
		// A receiver that keeps failing is recorded at the 1st, 2nd, 4th,
		// 8th... failed attempt, each entry with the count and the last
		// error: retries cannot fill the trail.
		if n.State == securityv1alpha1.DeliveryFailed && seen && old.State == n.State &&
			bits.Len32(uint32(max(old.Attempts, 0))) == bits.Len32(uint32(max(n.Attempts, 0))) {
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

func setIf(details map[string]string, key, value string) {
	if value != "" {
		details[key] = value
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// markImported says, in a record's entry, that the record came with the
// incident when it was imported rather than being made here.
func markImported(details map[string]string, imported *securityv1alpha1.Import, record string) {
	if imported.Includes(record) {
		details["imported"] = "true"
	}
}

// FromLog is an entry of the audit log as the record's readers (the
// timeline, Missing) take it: ordinal numbers it among its incident's
// entries. It has no hash or signature of its own: the log's checkpoints
// sign it.
func FromLog(e translog.Entry, ordinal int64) securityv1alpha1.AuditEntry {
	return securityv1alpha1.AuditEntry{
		Sequence: ordinal,
		Time:     metav1.NewMicroTime(e.Time),
		Actor:    securityv1alpha1.AuditActor{Operator: e.Operator, Username: e.Actor, Groups: e.Groups},
		Action:   securityv1alpha1.AuditAction(e.Action),
		Details:  e.Details,
	}
}

// OfIncident are the entries of the incident uid in the log's batches, in
// the log's order, as FromLog gives them.
func OfIncident(batches []translog.Batch, uid string) ([]securityv1alpha1.AuditEntry, error) {
	var out []securityv1alpha1.AuditEntry
	needle := []byte(`"uid":"` + uid + `"`)
	for _, b := range batches {
		if !bytes.Contains(b.Payload, needle) {
			continue
		}
		lines, err := b.Lines()
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", b.Name(), err)
		}
		for i, line := range lines {
			if !bytes.Contains(line, needle) {
				continue
			}
			e, err := translog.ParseEntry(line)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", b.First+int64(i), err)
			}
			if e.UID == uid {
				out = append(out, FromLog(e, int64(len(out))))
			}
		}
	}
	return out, nil
}
