package v1alpha1

import "time"

// The facts every reader of an incident needs (the operator, the reports,
// the plugin, policy tests) live here, once: when it was reported, when
// the regulator's clock starts, the authority's deadline and its type.

// ReportClockSkew is how far a reported time may lie after the moment it
// was reported, for a reporter's clock that runs fast.
const ReportClockSkew = 5 * time.Minute

// AuthorityNotificationWithin is UK GDPR Art. 33(1)'s 72 hours from
// awareness, unless a policy's regulatory settings say otherwise.
const AuthorityNotificationWithin = 72 * time.Hour

// ReportedAt is when the report was made, where the service desk's clock
// starts: spec.reportedAt, unless it lies after the incident was created
// (which the admission policy refuses, but an incident stored before it
// may hold), and otherwise the creation.
func (in *Incident) ReportedAt() time.Time {
	created := in.CreationTimestamp.Time
	if at := in.Spec.ReportedAt; at != nil && !at.After(created.Add(ReportClockSkew)) {
		return at.Time
	}
	return created
}

// AwareAt is when the regulator's clock starts: as the operator recorded
// it, else as the operator will record it (ReportedAwareAt).
func (in *Incident) AwareAt() time.Time {
	if in.Status.AwareAt != nil {
		return in.Status.AwareAt.Time
	}
	return in.ReportedAwareAt()
}

// ReportedAwareAt is when the spec says the organisation became aware,
// as the operator records it in status.awareAt: spec.awareAt, unless it
// lies after the report, which the admission policy refuses but an
// incident stored before it was installed may hold (a clock started in
// the future, 2062 typed for 2026, would tell nobody for decades); else
// when the report was made.
func (in *Incident) ReportedAwareAt() time.Time {
	reported := in.ReportedAt()
	if aware := in.Spec.AwareAt; aware != nil && !aware.After(reported.Add(ReportClockSkew)) &&
		(in.Spec.ReportedAt == nil || !aware.After(reported)) {
		return aware.Time
	}
	return reported
}

// StatedKnownSince is when the organisation knew of the incident as its
// reporter stated it (awareAt, else reportedAt); nil when neither is
// given, as the incident's creation may come long after what it records
// (evidence collected, a filing made).
func (in *Incident) StatedKnownSince() *time.Time {
	switch {
	case in.Spec.AwareAt != nil:
		return &in.Spec.AwareAt.Time
	case in.Spec.ReportedAt != nil:
		return &in.Spec.ReportedAt.Time
	}
	return nil
}

// AuthorityDeadline is when the supervisory authority must be told: the
// operator's deadline, or before the operator set one, 72 hours from
// awareness.
func (in *Incident) AuthorityDeadline() time.Time {
	if d := in.Status.AuthorityNotificationDeadline; d != nil {
		return d.Time
	}
	return in.AwareAt().Add(AuthorityNotificationWithin)
}

// IncidentType is spec.type, or the API's default for an incident that
// was never defaulted by the API server, such as one built in a test or
// read from a file.
func (in *Incident) IncidentType() IncidentType {
	if in.Spec.Type == "" {
		return TypeIncident
	}
	return in.Spec.Type
}

// KindOrDefault is the kind the reference names: a namespace's own
// EscalationPolicy when it names none, as references made before cluster
// policies did.
func (r PolicyReference) KindOrDefault() string {
	if r.Kind == "" {
		return KindEscalationPolicy
	}
	return r.Kind
}
