// Package notify delivers notifications about incidents to receivers. It
// knows nothing of Kubernetes clients: the controller resolves receivers and
// secrets and hands over a Message and a destination.
package notify

import (
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Message is what a receiver is told, whoever sends it: the envelope (the
// delivery's idempotency key, and the notice when the message tells of a
// change) and what it is about, an incident or a report's run. Exactly one
// of IncidentMessage and ReportMessage is set; their fields sit beside the
// envelope's in JSON, so a webhook reads one flat object.
type Message struct {
	// Key is the delivery's idempotency key.
	Key string `json:"idempotencyKey"`
	// Notice is set when the message tells of a change rather than the
	// incident or the run itself: Major, Escalated, Acknowledged, Resolved,
	// SLAAtRisk, AwaitingAgreement or ObligationDue about an incident;
	// NoticeReviewOverdue about a report's run.
	Notice string `json:"notice,omitempty"`
	*IncidentMessage
	*ReportMessage
}

// IncidentMessage is what a message about an incident carries.
type IncidentMessage struct {
	Incident IncidentSummary `json:"incident"`
	Policy   string          `json:"policy"`
	Level    int32           `json:"level"`
	Receiver string          `json:"receiver"`
	// FallbackFor names the receiver that could not be reached, when this
	// message goes to the policy's fallback receiver in its place.
	FallbackFor string `json:"fallbackFor,omitempty"`
	// Obligation is the regulatory obligation an AwaitingAgreement or
	// ObligationDue notice is about.
	Obligation *ObligationSummary `json:"obligation,omitempty"`
}

// ObligationSummary is what a notice says of a regulatory obligation.
type ObligationSummary struct {
	Regime    string                           `json:"regime"`
	Stage     string                           `json:"stage"`
	Citation  string                           `json:"citation,omitempty"`
	Recipient securityv1alpha1.Recipient       `json:"recipient,omitempty"`
	State     securityv1alpha1.ObligationState `json:"state"`
	Deadline  *time.Time                       `json:"deadline,omitempty"`
	Filing    string                           `json:"filing,omitempty"`
	// Missing says what is still to be done.
	Missing string `json:"missing,omitempty"`
}

// SummariseObligation is what a notice says of the incident's obligation
// named regime/stage; nil when the incident has none of that name.
func SummariseObligation(inc *securityv1alpha1.Incident, name string) *ObligationSummary {
	for _, o := range inc.Status.Obligations {
		if o.Regime+"/"+o.Stage != name {
			continue
		}
		s := &ObligationSummary{Regime: o.Regime, Stage: o.Stage, Citation: o.Citation, Recipient: o.Recipient,
			State: o.State, Filing: o.Filing, Missing: o.Missing}
		if o.Deadline != nil {
			t := o.Deadline.UTC()
			s.Deadline = &t
		}
		return s
	}
	return nil
}

// IncidentSummary is the part of an incident that notifications carry.
type IncidentSummary struct {
	Namespace   string                            `json:"namespace"`
	Name        string                            `json:"name"`
	UID         string                            `json:"uid"`
	Title       string                            `json:"title"`
	Description string                            `json:"description,omitempty"`
	Type        securityv1alpha1.IncidentType     `json:"type"`
	Category    securityv1alpha1.IncidentCategory `json:"category"`
	Severity    securityv1alpha1.Severity         `json:"severity"`
	Reporter    securityv1alpha1.Reporter         `json:"reporter"`
	Assets      []string                          `json:"assets,omitempty"`
	Impact      securityv1alpha1.Impact           `json:"impact"`
	AwareAt     *time.Time                        `json:"awareAt,omitempty"`
	Phase       securityv1alpha1.IncidentPhase    `json:"phase,omitempty"`
	// Acknowledgement and Resolution are set once made.
	Acknowledgement *securityv1alpha1.Acknowledgement `json:"acknowledgement,omitempty"`
	Resolution      *securityv1alpha1.Resolution      `json:"resolution,omitempty"`
	// SLA holds the service-level deadlines, when a policy sets them.
	SLA *securityv1alpha1.SLAStatus `json:"sla,omitempty"`
}

// Summarise extracts what notifications say about an incident.
func Summarise(inc *securityv1alpha1.Incident) IncidentSummary {
	s := IncidentSummary{
		Namespace:   inc.Namespace,
		Name:        inc.Name,
		UID:         string(inc.UID),
		Title:       inc.Spec.Title,
		Description: inc.Spec.Description,
		Type:        inc.Spec.Type,
		Category:    inc.Spec.Category,
		Severity:    inc.Spec.Severity,
		Reporter:    inc.Spec.Reporter,
		Assets:      inc.Spec.Assets,
		Impact:      inc.Spec.Impact,
		Phase:       inc.Status.Phase,

		Acknowledgement: inc.Spec.Acknowledgement,
		Resolution:      inc.Spec.Resolution,
		SLA:             inc.Status.SLA,
	}
	if inc.Status.AwareAt != nil {
		t := inc.Status.AwareAt.UTC()
		s.AwareAt = &t
	}
	return s
}
