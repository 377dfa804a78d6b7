package controllers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/sink"
)

// recorder is a loopback HTTP receiver that keeps each request.
type recorder struct {
	*httptest.Server
	requests chan recorded
}

type recorded struct {
	header http.Header
	body   map[string]any
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{requests: make(chan recorded, 16)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.requests <- recorded{header: req.Header.Clone(), body: body}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func TestEveryChannelDeliversToItsReceiver(t *testing.T) {
	ns := newNamespace(t)
	hook, slack, teams, pagerduty := newRecorder(t), newRecorder(t), newRecorder(t), newRecorder(t)
	create(t, secretWithData(ns, "channels", map[string]string{
		"webhook": hook.URL, "signing": "s3cret", "slack": slack.URL, "teams": teams.URL, "pagerduty": "routing-key",
	}))
	ref := func(key string) securityv1alpha1.SecretKeyReference {
		return securityv1alpha1.SecretKeyReference{Name: "channels", Key: key}
	}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "all-channels"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{
				{Name: "hook", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("webhook"), SigningSecretRef: new(ref("signing"))}},
				{Name: "chat", Slack: &securityv1alpha1.ChatReceiver{URLSecretRef: ref("slack")},
					Template: &securityv1alpha1.MessageTemplate{Title: "Incident {{.Incident.Name}} needs you"}},
				{Name: "team", Teams: &securityv1alpha1.ChatReceiver{URLSecretRef: ref("teams")}},
				{Name: "pager", PagerDuty: &securityv1alpha1.PagerDutyReceiver{RoutingKeySecretRef: ref("pagerduty"), URL: pagerduty.URL + "/v2/enqueue"}},
			},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{
				{Receiver: "hook"}, {Receiver: "chat"}, {Receiver: "team"}, {Receiver: "pager"},
			}}}},
		},
	}
	create(t, policy)
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	inc := newIncident(ns, "ransomware", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityCritical)
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionTrue, securityv1alpha1.ReasonDelivered)

	channels := map[string]string{}
	for _, rec := range inc.Status.Notifications {
		channels[rec.Receiver] = rec.Channel
	}
	if want := map[string]string{"hook": "webhook", "chat": "slack", "team": "teams", "pager": "pagerduty"}; len(channels) != 4 ||
		channels["hook"] != want["hook"] || channels["chat"] != want["chat"] || channels["team"] != want["team"] || channels["pager"] != want["pager"] {
		t.Errorf("channels = %v, want %v", channels, want)
	}

	if h := <-hook.requests; !strings.HasPrefix(h.header.Get(notify.SignatureHeader), "t=") || h.body["idempotencyKey"] == nil {
		t.Errorf("webhook request not signed or keyed: %v", h.header)
	}
	if s := <-slack.requests; s.body["text"] != "Incident ransomware needs you" {
		t.Errorf("slack text = %v, want the policy's template", s.body["text"])
	}
	if m := <-teams.requests; m.body["type"] != "message" {
		t.Errorf("teams body = %v", m.body)
	}
	p := <-pagerduty.requests
	if p.body["routing_key"] != "routing-key" || p.body["dedup_key"] != string(inc.UID) || p.body["event_action"] != "trigger" {
		t.Errorf("pagerduty event = %v", p.body)
	}
}

func TestPolicyWithATemplateThatDoesNotParseIsNotReady(t *testing.T) {
	ns := newNamespace(t)
	webhookSecret(t, ns, "hook", "http://127.0.0.1:1/")
	policy := webhookPolicy(ns, "bad-template", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.Receivers = append(policy.Spec.Receivers, securityv1alpha1.Receiver{
		Name:     "desk-chat",
		Slack:    &securityv1alpha1.ChatReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"}},
		Template: &securityv1alpha1.MessageTemplate{Body: "{{.Incident.Title"},
	})
	create(t, policy)
	c := waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonInvalidTemplate)
	if !strings.Contains(c.Message, "desk-chat") || !strings.Contains(c.Message, "body template") {
		t.Errorf("message %q should name the receiver and the template", c.Message)
	}
}

// mailsAbout returns the mails the mailbox got about one incident.
func mailsAbout(uid string) []sink.Mail {
	var out []sink.Mail
	for _, m := range mailbox.Mails() {
		if m.Header.Get("References") == notify.ThreadID(uid) {
			out = append(out, m)
		}
	}
	return out
}

func TestEmailIsSentOverTLSAsOneThreadPerIncident(t *testing.T) {
	ns := newNamespace(t)
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "personal-data"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{
				{Name: "internal-audit", Email: &securityv1alpha1.EmailReceiver{To: []string{"audit@council.example"}, Cc: []string{"records@council.example"}}},
				{Name: "dpo", Email: &securityv1alpha1.EmailReceiver{To: []string{"dpo@council.example"}},
					Template: &securityv1alpha1.MessageTemplate{Title: "Data protection: {{.Incident.Title}}"}},
			},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{
				{Receiver: "internal-audit"}, {Receiver: "dpo"},
			}}}},
		},
	}
	create(t, policy)
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	inc := newIncident(ns, "letter-to-wrong-address", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	inc.Spec.Impact.PersonalData = true
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionNotified, metav1.ConditionTrue, securityv1alpha1.ReasonDelivered)

	keys := map[string]string{}
	for _, rec := range inc.Status.Notifications {
		if rec.Channel != "email" {
			t.Errorf("receiver %s has channel %q, want email", rec.Receiver, rec.Channel)
		}
		keys[rec.Receiver] = rec.Key
	}
	mails := mailsAbout(string(inc.UID))
	if len(mails) != 2 {
		t.Fatalf("mailbox has %d mails about the incident, want 2", len(mails))
	}
	byTo := map[string]sink.Mail{}
	for _, m := range mails {
		if !m.TLS || m.User != mailbox.Username {
			t.Errorf("mail to %v: TLS=%v user=%q, want STARTTLS and the operator's login", m.To, m.TLS, m.User)
		}
		if m.From != "incidents@council.example" || m.Header.Get("In-Reply-To") != notify.ThreadID(string(inc.UID)) {
			t.Errorf("mail to %v: envelope from %q, In-Reply-To %q", m.To, m.From, m.Header.Get("In-Reply-To"))
		}
		byTo[strings.Join(m.To, ",")] = m
	}
	audit, dpo := byTo["audit@council.example,records@council.example"], byTo["dpo@council.example"]
	if audit.Header.Get("Message-Id") != notify.MessageID(keys["internal-audit"]) || dpo.Header.Get("Message-Id") != notify.MessageID(keys["dpo"]) {
		t.Errorf("Message-IDs %q and %q do not derive from the delivery keys %v",
			audit.Header.Get("Message-Id"), dpo.Header.Get("Message-Id"), keys)
	}
	if got := audit.Header.Get("Subject"); got != "[High] Test incident letter-to-wrong-address" {
		t.Errorf("default subject = %q", got)
	}
	if got := dpo.Header.Get("Subject"); got != "Data protection: Test incident letter-to-wrong-address" {
		t.Errorf("templated subject = %q", got)
	}
	if !strings.Contains(audit.Text, "Impact: personal data") || !strings.Contains(audit.HTML, "<td>UnauthorisedDisclosure</td>") {
		t.Errorf("mail body lacks the incident's facts:\n%s\n%s", audit.Text, audit.HTML)
	}
}
