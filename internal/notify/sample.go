package notify

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// notices are the values of Message.Notice, as the lifecycle records them;
// "" is the first notification of an incident.
var notices = []string{"", "Escalated", "Acknowledged", "Resolved", "SLAAtRisk", "Major", "AwaitingAgreement", "ObligationDue"}

// sampleMessage is a message about an incident with every part filled in,
// acknowledgement, resolution and SLA included, for checking templates.
func sampleMessage(notice string) Message {
	at := time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)
	due := at.Add(72 * time.Hour)
	return Message{Key: "0123456789abcdef", Notice: notice, IncidentMessage: &IncidentMessage{
		Policy: "personal-data-breach", Level: 0, Receiver: "audit",
		FallbackFor: "dpo-pager",
		Obligation: &ObligationSummary{Regime: "uk-gdpr", Stage: "notification", Citation: "UK GDPR Art. 33(1)",
			Recipient: securityv1alpha1.RecipientSupervisoryAuthority, State: securityv1alpha1.ObligationDrafted, Deadline: &due,
			Filing: "lost-laptop.uk-gdpr.notification", Missing: "the notification needs 1 more agreement, then filing"},
		Incident: IncidentSummary{
			Namespace: "council", Name: "lost-laptop", UID: "uid-42",
			Title:       "Finance laptop left on a train",
			Description: "The laptop was left on the 08:12 to the city centre.",
			Type:        securityv1alpha1.TypeIncident,
			Category:    securityv1alpha1.CategoryLoss,
			Severity:    securityv1alpha1.SeverityHigh,
			Reporter: securityv1alpha1.Reporter{
				Contact:     securityv1alpha1.Contact{Name: "Priya Shah", Email: "priya.shah@example.org", Phone: "+44 20 7946 0000"},
				Department:  "Finance",
				LineManager: &securityv1alpha1.Contact{Name: "Sam Okafor", Email: "sam.okafor@example.org"},
			},
			Assets:  []string{"laptop-fin-0142"},
			Impact:  securityv1alpha1.Impact{PersonalData: true, ITRelated: true, DataSubjects: ptr.To[int32](240)},
			AwareAt: &at,
			Phase:   securityv1alpha1.PhaseOpen,
			Acknowledgement: &securityv1alpha1.Acknowledgement{
				By: "Dee Morgan", Note: "Asked the rail operator's lost property office.",
			},
			Resolution: &securityv1alpha1.Resolution{
				State: securityv1alpha1.ResolutionResolved, By: "Dee Morgan", Summary: "The laptop was found and wiped remotely.",
			},
			SLA: &securityv1alpha1.SLAStatus{
				Policy:              "personal-data-breach",
				Hours:               securityv1alpha1.BusinessHours,
				AcknowledgeBy:       &metav1.Time{Time: at.Add(time.Hour)},
				ResolveBy:           &metav1.Time{Time: at.Add(72 * time.Hour)},
				AcknowledgeAtRiskAt: &metav1.Time{Time: at.Add(45 * time.Minute)},
				ResolveAtRiskAt:     &metav1.Time{Time: at.Add(60 * time.Hour)},
			},
		},
	}}
}

// newIncidentMessage is the first notification of an incident reported with
// only what the API requires, before anyone acknowledged or resolved it.
func newIncidentMessage() Message {
	msg := sampleMessage("")
	inc := &msg.Incident
	inc.Description, inc.Assets, inc.Impact = "", nil, securityv1alpha1.Impact{}
	inc.Reporter = securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: inc.Reporter.Name}}
	inc.Acknowledgement, inc.Resolution = nil, nil
	msg.FallbackFor, msg.Obligation = "", nil
	return msg
}
