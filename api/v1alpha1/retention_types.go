package v1alpha1

import "time"

// Retention is how long resolved incidents stay in the cluster. etcd is
// not a records store: it holds a few GiB, and personal data must go when
// it is no longer needed. When the period ends, the operator archives the
// incident whole (the object, its evidence records and its entries of the
// namespace's audit log) to the operator's audit archive, records where in
// the log, and removes the incident and its evidence from the cluster.
// An incident under legal hold is neither archived nor removed.
//
// +kubebuilder:validation:XValidation:rule="!self.after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.after) >= duration('24h')",message="retention.after must be at least 24h: an incident is kept at least a day after it is resolved",fieldPath=".after"
type Retention struct {
	// After is how long after its resolution an incident is archived and
	// removed, such as 17520h for two years. When several policies route
	// an incident, the longest period of those that set one applies.
	After Duration `json:"after"`
}

// MinRetention and MaxRetention bound Retention.After: a period below the
// floor (stored before the CRD refused it) is never acted on.
const (
	MinRetention = 24 * time.Hour
	MaxRetention = 99999 * time.Hour
)

// Retention conditions and reasons of an incident.
const (
	// ConditionRetained is False while a resolved incident whose retention
	// ended stays in the cluster, saying why (legal hold, no archive, a
	// refused archive write).
	ConditionRetained = "Retained"

	ReasonRetentionHeld          = "LegalHold"
	ReasonRetentionNoArchive     = "NoArchive"
	ReasonRetentionArchiveFailed = "ArchiveFailed"
)

// RetainedUntil is when a resolved incident's retention ends under the
// policies that route it: its resolution plus the longest period of those
// that set one. It is false while the incident is not resolved or no
// policy sets a period.
func (in *Incident) RetainedUntil(policies map[string]*EscalationPolicy) (time.Time, bool) {
	if in.Status.ResolvedAt == nil {
		return time.Time{}, false
	}
	var longest time.Duration
	for _, p := range policies {
		if p == nil || p.Spec.Retention == nil || p.Spec.Retention.After.Err() != nil || p.Spec.Retention.After.Duration < MinRetention {
			continue
		}
		longest = max(longest, p.Spec.Retention.After.Duration)
	}
	if longest == 0 {
		return time.Time{}, false
	}
	return in.Status.ResolvedAt.Add(longest), true
}
