package receiver

import (
	"errors"
	"strings"
	"testing"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// A report's webhook and e-mail receivers take its document through the
// one Send every message goes through; chat and paging receivers, which
// cannot carry a file, refuse it.
func TestAReportsRunSendsThroughTheSameInterface(t *testing.T) {
	rec, srv, mailbox, transport := loopback(t)
	transport.Secrets = mapSecrets{"desk/hooks/webhook": srv.URL + "/records"}
	msg := notify.Message{Key: "k", ReportMessage: &notify.ReportMessage{Report: "weekly", Namespace: "desk", Run: "2026-03-09T09:00:00Z",
		Document: notify.NewDocument("CSV", "weekly.csv", "text/csv", []byte("Namespace,Name\n"))}}

	for name, spec := range map[string]securityv1alpha1.Receiver{
		"webhook": {Name: "records", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("hooks", "webhook")}},
		"email":   {Name: "manager", Email: &securityv1alpha1.EmailReceiver{To: []string{"manager@example.org"}}},
	} {
		r, err := New("desk", &spec, nil, transport)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := r.Send(t.Context(), msg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	rec.mu.Lock()
	if len(rec.requests) != 1 || rec.requests[0].path != "/records" || rec.requests[0].key != "k" || rec.requests[0].body["filename"] != "weekly.csv" {
		t.Errorf("webhook requests %+v", rec.requests)
	}
	rec.mu.Unlock()
	if mails := mailbox.Mails(); len(mails) != 1 || mails[0].To[0] != "manager@example.org" || !strings.Contains(string(mails[0].Raw), "weekly.csv") {
		t.Errorf("mails %+v", mails)
	}

	for name, spec := range map[string]securityv1alpha1.Receiver{
		"slack":     {Name: "chat", Slack: &securityv1alpha1.ChatReceiver{}},
		"teams":     {Name: "chat", Teams: &securityv1alpha1.ChatReceiver{}},
		"pagerduty": {Name: "pager", PagerDuty: &securityv1alpha1.PagerDutyReceiver{}},
	} {
		r, err := New("desk", &spec, nil, transport)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := r.Send(t.Context(), msg); !errors.Is(err, ErrCannotCarryDocument) {
			t.Errorf("%s: %v, want ErrCannotCarryDocument", name, err)
		}
	}
	noMail := *transport
	noMail.Mailer = nil
	r, _ := New("desk", &securityv1alpha1.Receiver{Name: "m", Email: &securityv1alpha1.EmailReceiver{To: []string{"a@example.org"}}}, nil, &noMail)
	if err := r.Send(t.Context(), msg); !errors.Is(err, ErrNoMailServer) {
		t.Errorf("e-mail without an SMTP server: %v", err)
	}
}
