package record

import (
	"fmt"
	"strconv"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Missing names what an incident itself shows happened that its trail,
// read as stored, does not record: changes the API server kept in
// spec.changes for generations the trail says it observed, an
// acknowledgement, resolution or authority report the status holds, a
// delivered notification. A trail cut short and a head rewound to match
// verify as a chain; they do not agree with the incident, unless its
// spec and status were rewritten as well, which spec.changes resists (the
// API server writes it). The operator writes the trail before the status,
// so a trail that is current lacks nothing.
func Missing(incident *securityv1alpha1.Incident, entries []securityv1alpha1.AuditEntry) []string {
	has := func(action securityv1alpha1.AuditAction, key, value string) bool {
		for _, e := range entries {
			if e.Action == action && (key == "" || e.Details[key] == value) {
				return true
			}
		}
		return false
	}
	var missing []string
	if len(entries) == 0 {
		if incident.Status.Audit != nil && incident.Status.Audit.Head != nil {
			missing = append(missing, fmt.Sprintf("the trail is empty, but status.audit.head is at entry %d", incident.Status.Audit.Head.Sequence))
		}
		if incident.Status.Audit != nil && incident.Status.Audit.Log != nil {
			missing = append(missing, fmt.Sprintf("the record is empty, but status.audit.log counts %d entries", incident.Status.Audit.Log.Entries))
		}
		if incident.Status.Phase != "" {
			missing = append(missing, "the trail is empty, but the operator has handled the incident (status.phase "+string(incident.Status.Phase)+")")
		}
		return missing
	}
	observed := int64(0)
	if incident.Status.Audit != nil {
		observed = incident.Status.Audit.ObservedGeneration
	}
	for _, change := range incident.Spec.Changes {
		if change.Generation > observed {
			continue
		}
		generation := strconv.FormatInt(change.Generation, 10)
		if !has(securityv1alpha1.AuditChanged, "generation", generation) && !notObserved(entries, change.Generation) {
			missing = append(missing, "the change of generation "+generation+" by "+change.By.Username+" (spec.changes)")
		}
	}
	status := &incident.Status
	if status.AcknowledgedAt != nil && !has(securityv1alpha1.AuditAcknowledged, "", "") {
		missing = append(missing, "the acknowledgement (status.acknowledgedAt)")
	}
	if status.ResolvedAt != nil && !has(securityv1alpha1.AuditResolved, "", "") {
		missing = append(missing, "the resolution (status.resolvedAt)")
	}
	for _, n := range status.Notifications {
		if n.State == securityv1alpha1.DeliveryDelivered && !has(securityv1alpha1.AuditNotified, "key", n.Key) {
			missing = append(missing, "the delivered notification "+n.Key+" to "+n.Receiver)
		}
	}
	return missing
}

// notObserved reports whether a ChangeNotObserved entry covers generation.
func notObserved(entries []securityv1alpha1.AuditEntry, generation int64) bool {
	for _, e := range entries {
		if e.Action != securityv1alpha1.AuditChangeNotObserved {
			continue
		}
		var from, to int64
		if n, _ := fmt.Sscanf(e.Details["generations"], "%d-%d", &from, &to); n == 2 && from <= generation && generation <= to {
			return true
		}
		if n, _ := fmt.Sscanf(e.Details["generations"], "%d", &from); n == 1 && from == generation {
			return true
		}
	}
	return false
}
