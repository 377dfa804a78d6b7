package policycheck

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// validPolicy passes every check with mail configured and PagerDuty allowed.
func validPolicy() *securityv1alpha1.EscalationPolicy {
	ref := securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"}
	return &securityv1alpha1.EscalationPolicy{Spec: securityv1alpha1.EscalationPolicySpec{
		Match: securityv1alpha1.PolicyMatch{Expression: "true", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "desk"}}},
		Receivers: []securityv1alpha1.Receiver{
			{Name: "hook", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref, Timeout: securityv1alpha1.NewDuration(5 * time.Second)}},
			{Name: "pd", PagerDuty: &securityv1alpha1.PagerDutyReceiver{RoutingKeySecretRef: ref, URL: "https://events.pagerduty.com/v2/enqueue"}},
			{Name: "desk", Email: &securityv1alpha1.EmailReceiver{To: []string{"desk@example.org"}}, Template: &securityv1alpha1.MessageTemplate{Title: "{{.Incident.Title}}"}},
		},
		Escalation: securityv1alpha1.Escalation{
			Levels: []securityv1alpha1.EscalationLevel{
				{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "hook"}, {Role: securityv1alpha1.RoleLineManager}}},
				{After: securityv1alpha1.NewDuration(15 * time.Minute), Notify: []securityv1alpha1.NotifyTarget{{Receiver: "pd"}}},
			},
			Repeat: 2, RepeatAfter: securityv1alpha1.NewDuration(time.Hour),
		},
		SLA: &securityv1alpha1.SLA{
			Calendar: &securityv1alpha1.Calendar{TimeZone: "Europe/London", Opens: "08:00", Closes: "17:30"},
			Targets:  []securityv1alpha1.SLATarget{{Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh}, AcknowledgeWithin: securityv1alpha1.NewDuration(4 * time.Hour), WarnBefore: securityv1alpha1.NewDuration(time.Hour)}},
		},
		Regulatory: &securityv1alpha1.Regulatory{AuthorityNotificationWithin: securityv1alpha1.NewDuration(72 * time.Hour)},
	}}
}

func fullEnv() Environment {
	return Environment{
		MailConfigured:   true,
		CheckDestination: mustAllow(DefaultDestinations, notify.Egress{}),
		Expression: func(source string) error {
			switch source {
			case "1/0 == 1":
				return errors.New("fails on a sample incident: division by zero")
			case "incident.metadata.labels.team == 'desk'":
				return failsOn{errors.New("fails on an incident without labels: no such key: labels")}
			}
			return nil
		},
		Template: func(title, _ string) error {
			if title == "{{.Nope}}" {
				return errors.New("title template: can't evaluate field Nope")
			}
			return nil
		},
	}
}

// failsOn is the error of an expression that fails on some incidents
// only, as routing.ExpressionFailure is.
type failsOn struct{ error }

func (failsOn) FailsOn() string { return "an incident without labels" }

// storedDuration is a Duration as decoded from what the API server stored.
func storedDuration(t *testing.T, raw string) *securityv1alpha1.Duration {
	t.Helper()
	d := &securityv1alpha1.Duration{}
	if err := json.Unmarshal([]byte(`"`+raw+`"`), d); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	return d
}

func TestRun(t *testing.T) {
	tests := map[string]struct {
		change func(t *testing.T, p *securityv1alpha1.EscalationPolicy)
		env    func(e *Environment)
		want   []Problem // field and reason only
	}{
		"valid": {},
		"a duration stored in words": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Escalation.Levels[1].After = storedDuration(t, "5 minutes")
			},
			want: []Problem{{Field: "spec.escalation.levels[1].after", Reason: ReasonInvalidDuration}},
		},
		"negative and zero durations, and a longer legal clock, all reported at once": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Regulatory.AuthorityNotificationWithin = storedDuration(t, "-72h")
				p.Spec.Escalation.RepeatAfter = securityv1alpha1.NewDuration(0)
				p.Spec.Receivers[0].Webhook.Timeout = securityv1alpha1.NewDuration(time.Hour)
				p.Spec.SLA.Targets[0].WarnBefore = securityv1alpha1.NewDuration(0)
			},
			want: []Problem{
				{Field: "spec.receivers[0].webhook.timeout", Reason: ReasonInvalidDuration},
				{Field: "spec.escalation.repeatAfter", Reason: ReasonInvalidDuration},
				{Field: "spec.sla.targets[0].warnBefore", Reason: ReasonInvalidDuration},
				{Field: "spec.regulatory.authorityNotificationWithin", Reason: ReasonInvalidDuration},
			},
		},
		"authority clock longer than the law's": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Regulatory.AuthorityNotificationWithin = securityv1alpha1.NewDuration(73 * time.Hour)
			},
			want: []Problem{{Field: "spec.regulatory.authorityNotificationWithin", Reason: ReasonInvalidDuration}},
		},
		"a later level with no wait": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) { p.Spec.Escalation.Levels[1].After = nil },
			want:   []Problem{{Field: "spec.escalation.levels[1].after", Reason: ReasonInvalidDuration}},
		},
		"level 0 with a wait": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Escalation.Levels[0].After = securityv1alpha1.NewDuration(time.Minute)
			},
			want: []Problem{{Field: "spec.escalation.levels[0].after", Reason: ReasonInvalidDuration}},
		},
		"repeat without repeatAfter": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) { p.Spec.Escalation.RepeatAfter = nil },
			want:   []Problem{{Field: "spec.escalation.repeatAfter", Reason: ReasonInvalidDuration}},
		},
		"too many notifications": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				targets := make([]securityv1alpha1.NotifyTarget, 16)
				for i := range targets {
					targets[i] = securityv1alpha1.NotifyTarget{Receiver: "hook"}
				}
				p.Spec.Escalation.Levels[1].Notify = targets
				p.Spec.Escalation.Repeat = 10
			},
			want: []Problem{{Field: "spec.escalation", Reason: ReasonTooManyNotifications}},
		},
		"receivers that do not exist, a target with both, a receiver with two channels": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Escalation.Levels[1].Notify = append(p.Spec.Escalation.Levels[1].Notify,
					securityv1alpha1.NotifyTarget{Receiver: "nobody"}, securityv1alpha1.NotifyTarget{Receiver: "hook", Role: securityv1alpha1.RoleReporter})
				p.Spec.Receivers[0].Slack = &securityv1alpha1.ChatReceiver{}
				p.Spec.Delivery = &securityv1alpha1.Delivery{FallbackReceiver: "gone"}
				p.Spec.Major = &securityv1alpha1.Major{Notify: []securityv1alpha1.NotifyTarget{{}}}
			},
			want: []Problem{
				{Field: "spec.receivers[0]", Reason: ReasonInvalidReceiver},
				{Field: "spec.escalation.levels[1].notify[1].receiver", Reason: ReasonInvalidReceiver},
				{Field: "spec.escalation.levels[1].notify[2]", Reason: ReasonInvalidReceiver},
				{Field: "spec.major.notify[0]", Reason: ReasonInvalidReceiver},
				{Field: "spec.delivery.fallbackReceiver", Reason: ReasonInvalidReceiver},
			},
		},
		"slips the operator can run, reported without keeping the policy from routing": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[0].Webhook.Timeout = storedDuration(t, "0.5ms")
				p.Spec.Escalation.Levels[1].After = storedDuration(t, "59s")
				p.Spec.Escalation.RepeatAfter = storedDuration(t, "1h0.5s")
				p.Spec.SLA.Targets[0].ResolveWithin = storedDuration(t, "8h0.5s")
				p.Spec.Regulatory.AuthorityNotificationWithin = storedDuration(t, "30m")
			},
			want: []Problem{
				{Field: "spec.receivers[0].webhook.timeout", Reason: ReasonImplausibleValue},
				{Field: "spec.escalation.levels[1].after", Reason: ReasonImplausibleValue},
				{Field: "spec.escalation.repeatAfter", Reason: ReasonImplausibleValue},
				{Field: "spec.sla.targets[0].resolveWithin", Reason: ReasonImplausibleValue},
				{Field: "spec.regulatory.authorityNotificationWithin", Reason: ReasonImplausibleValue},
			},
		},
		"a retention below a day, stored before the CRD refused it": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Retention = &securityv1alpha1.Retention{After: *storedDuration(t, "23h59m")}
			},
			want: []Problem{{Field: "spec.retention.after", Reason: ReasonImplausibleValue}},
		},
		"no retention at all": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Retention = &securityv1alpha1.Retention{After: *storedDuration(t, "0s")}
			},
			want: []Problem{{Field: "spec.retention.after", Reason: ReasonInvalidDuration}},
		},
		"a warning as long as its deadlines": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.SLA.Targets[0].WarnBefore = securityv1alpha1.NewDuration(8 * time.Hour)
				p.Spec.SLA.Targets[0].ResolveWithin = securityv1alpha1.NewDuration(8 * time.Hour)
			},
			want: []Problem{
				{Field: "spec.sla.targets[0].warnBefore", Reason: ReasonImplausibleValue},
				{Field: "spec.sla.targets[0].warnBefore", Reason: ReasonImplausibleValue},
			},
		},
		"an address whose domain has no dot": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[2].Email.Cc = []string{"desk@localhost"}
			},
			want: []Problem{{Field: "spec.receivers[2].email.cc[0]", Reason: ReasonImplausibleValue}},
		},
		"an expression that fails on incidents without a label": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Match.Expression = "incident.metadata.labels.team == 'desk'"
			},
			want: []Problem{{Field: "spec.match.expression", Reason: ReasonExpressionFails}},
		},
		"what keeps a policy from routing comes first, so that Ready's reason is it": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Match.Expression = "incident.metadata.labels.team == 'desk'"
				p.Spec.Receivers[2].Template.Title = "{{.Nope}}"
				p.Spec.Receivers[0].Webhook.Timeout = storedDuration(t, "0.5ms")
			},
			want: []Problem{
				{Field: "spec.receivers[2].template", Reason: ReasonInvalidTemplate},
				{Field: "spec.match.expression", Reason: ReasonExpressionFails},
				{Field: "spec.receivers[0].webhook.timeout", Reason: ReasonImplausibleValue},
			},
		},
		"bad selector": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Match.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near"}}}
			},
			want: []Problem{{Field: "spec.match.selector", Reason: ReasonInvalidSelector}},
		},
		"bad selector value": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Match.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a b"}}
			},
			want: []Problem{{Field: "spec.match.selector", Reason: ReasonInvalidSelector}},
		},
		"expression that fails": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) { p.Spec.Match.Expression = "1/0 == 1" },
			want:   []Problem{{Field: "spec.match.expression", Reason: ReasonInvalidExpression}},
		},
		"template that fails": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[2].Template.Title = "{{.Nope}}"
			},
			want: []Problem{{Field: "spec.receivers[2].template", Reason: ReasonInvalidTemplate}},
		},
		"addresses net/mail does not take as they are": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[2].Email.To = []string{"desk@example.org", "Desk <desk@example.org>", "a..b@example.org"}
				p.Spec.Receivers[2].Email.Cc = []string{"x@"}
			},
			want: []Problem{
				{Field: "spec.receivers[2].email.to[1]", Reason: ReasonInvalidAddress},
				{Field: "spec.receivers[2].email.to[2]", Reason: ReasonInvalidAddress},
				{Field: "spec.receivers[2].email.cc[0]", Reason: ReasonInvalidAddress},
			},
		},
		"mail without an SMTP server": {
			env: func(e *Environment) { e.MailConfigured = false },
			want: []Problem{
				{Field: "spec.receivers[2] (desk)", Reason: ReasonChannelNotConfigured},
				{Field: "spec.escalation.levels[0].notify[1] (role LineManager)", Reason: ReasonChannelNotConfigured},
			},
		},
		"the operator host's time zone": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) { p.Spec.SLA.Calendar.TimeZone = "Local" },
			want:   []Problem{{Field: "spec.sla.calendar", Reason: ReasonInvalidCalendar}},
		},
		"PagerDuty URL somewhere else": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[1].PagerDuty.URL = "https://events.pagerduty.com.example.net/v2/enqueue"
			},
			want: []Problem{{Field: "spec.receivers[1].pagerDuty.url", Reason: ReasonDestinationNotAllowed}},
		},
		"PagerDuty URL with user info": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[1].PagerDuty.URL = "https://events.pagerduty.com@169.254.169.254/v2/enqueue"
			},
			want: []Problem{{Field: "spec.receivers[1].pagerDuty.url", Reason: ReasonDestinationNotAllowed}},
		},
		"PagerDuty URL the administrator allowed": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[1].PagerDuty.URL = "http://127.0.0.1:8080/pd/enqueue"
			},
			env: func(e *Environment) {
				e.CheckDestination = mustAllow([]string{"http://127.0.0.1:8080/pd/"}, notify.Egress{AllowLoopback: true})
			},
		},
		"PagerDuty URL climbing out of the allowed path": {
			change: func(t *testing.T, p *securityv1alpha1.EscalationPolicy) {
				p.Spec.Receivers[1].PagerDuty.URL = "https://events.pagerduty.com/v2/%2e%2e/../internal/"
			},
			env: func(e *Environment) {
				e.CheckDestination = mustAllow([]string{"https://events.pagerduty.com/v2/"}, notify.Egress{})
			},
			want: []Problem{{Field: "spec.receivers[1].pagerDuty.url", Reason: ReasonDestinationNotAllowed}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			policy := validPolicy()
			if tc.change != nil {
				tc.change(t, policy)
			}
			env := fullEnv()
			if tc.env != nil {
				tc.env(&env)
			}
			got := Run(policy, env)
			for i := range got {
				if got[i].Message == "" {
					t.Errorf("problem %s has no message", got[i].Field)
				}
				got[i].Message = ""
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestSummaryNamesEveryField(t *testing.T) {
	reason, message := Summary([]Problem{
		{Field: "spec.a", Reason: "First", Message: "is wrong"},
		{Field: "spec.b", Reason: "Second", Message: "is wrong too"},
	})
	if reason != "First" || message != "spec.a: is wrong; spec.b: is wrong too" {
		t.Errorf("Summary = %q, %q", reason, message)
	}
}

func TestStructuralNeedsNothingButThePolicy(t *testing.T) {
	policy := validPolicy()
	if got := Structural(policy); len(got) != 0 {
		t.Fatalf("valid policy: %v", got)
	}
	// A slip the operator can run does not keep the policy from routing.
	policy.Spec.Escalation.Levels[1].After = storedDuration(t, "30s")
	if got := Structural(policy); len(got) != 0 {
		t.Fatalf("a level 30s after the one before: %v", got)
	}
	policy.Spec.Escalation.Levels[1].After = storedDuration(t, "1d")
	if got := Structural(policy); len(got) != 1 || got[0].Field != "spec.escalation.levels[1].after" {
		t.Errorf("Structural = %v", got)
	}
}
