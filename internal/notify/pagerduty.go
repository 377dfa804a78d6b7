package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// PagerDutyEventsURL is the Events API v2 endpoint.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyTarget is a PagerDuty service reached through the Events API v2.
type PagerDutyTarget struct {
	// URL defaults to PagerDutyEventsURL.
	URL        string
	RoutingKey string
	Timeout    time.Duration
}

// PagerDuty event actions.
const (
	PagerDutyTrigger     = "trigger"
	PagerDutyAcknowledge = "acknowledge"
	PagerDutyResolve     = "resolve"
)

// PagerDutyAction is the event action for a message: acknowledgement and
// resolution notices acknowledge and resolve the incident's alert; anything
// else triggers it.
func PagerDutyAction(msg Message) string {
	switch msg.Notice {
	case "Acknowledged":
		return PagerDutyAcknowledge
	case "Resolved":
		return PagerDutyResolve
	}
	return PagerDutyTrigger
}

// PagerDutyEvent is the Events API v2 body for a message. The dedup_key is
// the incident's UID, so every notification about one incident, repeats and
// escalations included, attaches to one alert, and a resolve closes it.
func PagerDutyEvent(r *Renderer, msg Message, routingKey, action string) ([]byte, error) {
	title, body, err := r.Render(msg)
	if err != nil {
		return nil, err
	}
	inc := msg.Incident
	event := map[string]any{
		"routing_key":  routingKey,
		"event_action": action,
		"dedup_key":    inc.UID,
	}
	if action == PagerDutyTrigger {
		event["payload"] = map[string]any{
			"summary":   Truncate(title, 1024),
			"source":    "incident-operator/" + inc.Namespace,
			"severity":  pagerDutySeverity(inc.Severity),
			"component": inc.Name,
			"class":     string(inc.Category),
			"custom_details": map[string]any{
				"details":  body,
				"policy":   msg.Policy,
				"level":    msg.Level,
				"receiver": msg.Receiver,
				"reporter": inc.Reporter.Name,
				"assets":   inc.Assets,
			},
		}
	}
	return json.Marshal(event)
}

func pagerDutySeverity(s securityv1alpha1.Severity) string {
	switch s {
	case securityv1alpha1.SeverityCritical:
		return "critical"
	case securityv1alpha1.SeverityHigh:
		return "error"
	case securityv1alpha1.SeverityMedium:
		return "warning"
	default:
		return "info"
	}
}

// SendPagerDuty posts an Events API v2 event.
func (h *HTTP) SendPagerDuty(ctx context.Context, target PagerDutyTarget, event []byte) error {
	url := target.URL
	if url == "" {
		url = PagerDutyEventsURL
	}
	return h.post(ctx, url, target.Timeout, event, http.Header{})
}
