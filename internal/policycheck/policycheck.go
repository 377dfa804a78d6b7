// Package policycheck finds, when an EscalationPolicy is reconciled, every
// problem the CRD schema cannot express or that an object stored before the
// schema tightened may still have: durations that do not parse, a match
// expression or selector that cannot work, templates that fail, addresses
// mail cannot be sent to, channels the operator was not configured for,
// destinations it may not send to. It reports every problem at once, each
// naming its field, so that a policy author fixes them in one go.
package policycheck

import (
	"cmp"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/calendar"
	"github.com/incidentops/incident-operator/internal/notify"
)

// Reasons, as they appear in the policy's Ready condition.
const (
	ReasonInvalidDuration       = "InvalidDuration"
	ReasonInvalidExpression     = securityv1alpha1.ReasonInvalidExpression
	ReasonExpressionFails       = securityv1alpha1.ReasonExpressionFails
	ReasonInvalidSelector       = "InvalidSelector"
	ReasonInvalidTemplate       = securityv1alpha1.ReasonInvalidTemplate
	ReasonInvalidAddress        = "InvalidAddress"
	ReasonInvalidCalendar       = securityv1alpha1.ReasonInvalidCalendar
	ReasonChannelNotConfigured  = securityv1alpha1.ReasonChannelNotConfigured
	ReasonDestinationNotAllowed = "DestinationNotAllowed"
	ReasonTooManyNotifications  = "TooManyNotifications"
	ReasonInvalidReceiver       = "InvalidReceiver"
	// ReasonImplausibleValue: a value the operator can use but that is
	// almost surely a slip (Plausible). Unlike the others, it does not keep
	// the policy out of routing.
	ReasonImplausibleValue = "ImplausibleValue"
)

// Limits the API server enforces too; they are checked again here for
// policies stored before it did. Below each floor a value is a slip, such
// as 0.5ms for 5m: a receiver cannot answer in less than a second, people
// cannot act on a level in less than a minute, and a report to the
// authority takes at least an hour to prepare. Acknowledging is a click,
// so acknowledgeWithin and warnBefore keep a floor of a second, short
// enough for a demonstration to run real deadlines; resolving is work.
const (
	MaxTimeout                     = 5 * time.Minute
	MaxWait                        = 8760 * time.Hour
	MinStep                        = time.Second
	MaxAuthorityNotificationWithin = 72 * time.Hour
	// The floors: below them a value is a slip the operator can run.
	MinTimeout                     = time.Second
	MinEscalationStep              = time.Minute
	MinAcknowledgeWithin           = time.Second
	MinResolveWithin               = time.Minute
	MinWarnBefore                  = time.Second
	MinAuthorityNotificationWithin = time.Hour
	// MaxNotificationsPerChain bounds the notify targets of an escalation
	// chain times its runs (repeat + 1).
	MaxNotificationsPerChain = 100
)

// Problem is one thing wrong with a policy.
type Problem struct {
	// Field is the path of the field at fault, such as spec.escalation.levels[1].after.
	Field string
	// Reason is one CamelCase word for the Ready condition.
	Reason string
	// Message says what is wrong and what to do, in words.
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// Environment is what the checks need from the operator: its settings and
// the compilers of the parts written in other languages.
type Environment struct {
	// MailConfigured is true when the operator has an SMTP server.
	MailConfigured bool
	// CheckDestination says why the operator may not send to a URL that a
	// policy names itself (PagerDuty's url), or nil when it may. Nil allows
	// none. AllowDestinations builds it.
	CheckDestination func(url string) error
	// Expression compiles and tries a match expression; nil skips it. An
	// error with a FailsOn() string method (routing.ExpressionFailure) is
	// an expression that works on some incidents and fails on others an
	// author should expect.
	Expression func(source string) error
	// Template parses and tries a receiver's template; nil skips it.
	Template func(title, body string) error
}

// Check is one named check of the chain.
type Check func(*securityv1alpha1.EscalationPolicy, Environment) []Problem

// Chain is every check, in the order their problems are reported.
var Chain = []Check{Receivers, Durations, NotificationBound, Selector, Expression, Templates, Addresses, Channels, Calendar, Destinations, Plausible}

// Run runs the whole chain and returns every problem found. Those that
// keep the policy out of routing come first, so that the Ready reason,
// which routing reads (the first problem's), is one of them.
func Run(policy *securityv1alpha1.EscalationPolicy, env Environment) []Problem {
	var problems []Problem
	for _, check := range Chain {
		problems = append(problems, check(policy, env)...)
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Compare(a.routes(), b.routes())
	})
	return problems
}

// routes is 1 for a problem that leaves the policy routing the incidents
// it can (an expression failing on some, an implausible value), 0 for one
// that makes it unusable.
func (p Problem) routes() int {
	if p.Reason == ReasonExpressionFails || p.Reason == ReasonImplausibleValue {
		return 1
	}
	return 0
}

// Blocking are the problems that keep a policy out of routing: all but an
// expression failing on some incidents and an implausible value.
func Blocking(problems []Problem) []Problem {
	var blocking []Problem
	for _, p := range problems {
		if p.routes() == 0 {
			blocking = append(blocking, p)
		}
	}
	return blocking
}

// Structural runs the checks that need nothing but the policy itself, so
// routing can skip, without compiling anything, a policy that cannot work.
func Structural(policy *securityv1alpha1.EscalationPolicy) []Problem {
	var problems []Problem
	for _, check := range []Check{Receivers, Durations, NotificationBound} {
		problems = append(problems, check(policy, Environment{})...)
	}
	return problems
}

// Summary is the problems as one message, and the reason of the first.
func Summary(problems []Problem) (reason, message string) {
	if len(problems) == 0 {
		return "", ""
	}
	parts := make([]string, len(problems))
	for i, p := range problems {
		parts[i] = p.String()
	}
	return problems[0].Reason, strings.Join(parts, "; ")
}

// Receivers checks what the CRD's rules between fields say, for policies
// stored before them: each receiver has exactly one channel, each notify
// entry names exactly one of a receiver and a role, and every receiver
// named exists.
func Receivers(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	spec := &policy.Spec
	var problems []Problem
	names := map[string]bool{}
	for i := range spec.Receivers {
		r := &spec.Receivers[i]
		names[r.Name] = true
		channels := 0
		for _, set := range []bool{r.Webhook != nil, r.Slack != nil, r.Teams != nil, r.PagerDuty != nil, r.Email != nil} {
			if set {
				channels++
			}
		}
		if channels != 1 {
			problems = append(problems, Problem{Field: fmt.Sprintf("spec.receivers[%d]", i), Reason: ReasonInvalidReceiver,
				Message: fmt.Sprintf("receiver %s has %d channels; it needs exactly one of webhook, slack, teams, pagerDuty and email", r.Name, channels)})
		}
	}
	targets := func(field string, list []securityv1alpha1.NotifyTarget) {
		for j, t := range list {
			f := fmt.Sprintf("%s[%d]", field, j)
			switch {
			case (t.Receiver == "") == (t.Role == ""):
				problems = append(problems, Problem{Field: f, Reason: ReasonInvalidReceiver, Message: "set exactly one of receiver and role"})
			case t.Receiver != "" && !names[t.Receiver]:
				problems = append(problems, Problem{Field: f + ".receiver", Reason: ReasonInvalidReceiver, Message: fmt.Sprintf("%q is not one of spec.receivers", t.Receiver)})
			}
		}
	}
	for i, level := range spec.Escalation.Levels {
		targets(fmt.Sprintf("spec.escalation.levels[%d].notify", i), level.Notify)
	}
	if spec.Major != nil {
		targets("spec.major.notify", spec.Major.Notify)
	}
	if spec.Regulatory != nil {
		targets("spec.regulatory.notify", spec.Regulatory.Notify)
	}
	if d := spec.Delivery; d != nil && d.FallbackReceiver != "" && !names[d.FallbackReceiver] {
		problems = append(problems, Problem{Field: "spec.delivery.fallbackReceiver", Reason: ReasonInvalidReceiver,
			Message: fmt.Sprintf("%q is not one of spec.receivers", d.FallbackReceiver)})
	}
	return problems
}

// span is a duration field and the range it must be in: the limits
// without which the operator cannot run it, and the floor below which a
// value is a slip it can run, such as 0.5ms for 5m.
type span struct {
	field    string
	d        *securityv1alpha1.Duration
	min, max time.Duration
	// minExclusive makes min itself invalid: the field must be more than it.
	minExclusive bool
	// floor is the least plausible value; whole asks for whole seconds,
	// as the field counts seconds and a fraction of one is a slip.
	floor time.Duration
	whole bool
	what  string
}

// spans are the policy's duration fields, each with its range.
func spans(spec *securityv1alpha1.EscalationPolicySpec) []span {
	var out []span
	for i := range spec.Receivers {
		r := &spec.Receivers[i]
		field := fmt.Sprintf("spec.receivers[%d]", i)
		switch {
		case r.Webhook != nil:
			out = append(out, timeoutSpan(field+".webhook.timeout", r.Webhook.Timeout))
		case r.Slack != nil:
			out = append(out, timeoutSpan(field+".slack.timeout", r.Slack.Timeout))
		case r.Teams != nil:
			out = append(out, timeoutSpan(field+".teams.timeout", r.Teams.Timeout))
		case r.PagerDuty != nil:
			out = append(out, timeoutSpan(field+".pagerDuty.timeout", r.PagerDuty.Timeout))
		}
	}
	const step = "at least 1m and at most 8760h, in whole seconds: each level after the first gives people time to act on the one before it"
	for i, level := range spec.Escalation.Levels {
		field := fmt.Sprintf("spec.escalation.levels[%d].after", i)
		switch {
		case i == 0:
			out = append(out, span{field: field, d: level.After, what: "0s or unset: level 0 is notified when the incident is routed"})
		case level.After == nil:
			out = append(out, span{field: field, d: &securityv1alpha1.Duration{}, min: MinStep, max: MaxWait, floor: MinEscalationStep, whole: true, what: step})
		default:
			out = append(out, span{field: field, d: level.After, min: MinStep, max: MaxWait, floor: MinEscalationStep, whole: true, what: step})
		}
	}
	if spec.Escalation.Repeat > 0 || spec.Escalation.RepeatAfter != nil {
		repeatAfter := spec.Escalation.RepeatAfter
		if repeatAfter == nil {
			repeatAfter = &securityv1alpha1.Duration{}
		}
		out = append(out, span{field: "spec.escalation.repeatAfter", d: repeatAfter, min: MinStep, max: MaxWait, floor: MinEscalationStep, whole: true,
			what: "at least 1m and at most 8760h, in whole seconds, when repeat is set"})
	}
	if sla := spec.SLA; sla != nil {
		for i := range sla.Targets {
			t := &sla.Targets[i]
			field := fmt.Sprintf("spec.sla.targets[%d].", i)
			out = append(out,
				span{field: field + "acknowledgeWithin", d: t.AcknowledgeWithin, max: MaxWait, minExclusive: true, floor: MinAcknowledgeWithin, whole: true, what: "at least 1s and at most 8760h, in whole seconds"},
				span{field: field + "resolveWithin", d: t.ResolveWithin, max: MaxWait, minExclusive: true, floor: MinResolveWithin, whole: true, what: "at least 1m and at most 8760h, in whole seconds"},
				span{field: field + "warnBefore", d: t.WarnBefore, max: MaxWait, minExclusive: true, floor: MinWarnBefore, whole: true, what: "at least 1s and at most 8760h, in whole seconds"})
		}
	}
	if reg := spec.Regulatory; reg != nil {
		out = append(out, span{field: "spec.regulatory.authorityNotificationWithin", d: reg.AuthorityNotificationWithin, max: MaxAuthorityNotificationWithin, minExclusive: true,
			floor: MinAuthorityNotificationWithin, whole: true,
			what: "at least 1h and at most 72h, in whole seconds: a policy may shorten the legal clock, not remove or lengthen it, and a report to the authority takes at least an hour to prepare"})
	}
	if ret := spec.Retention; ret != nil {
		out = append(out, span{field: "spec.retention.after", d: &ret.After, max: securityv1alpha1.MaxRetention, minExclusive: true,
			floor: securityv1alpha1.MinRetention,
			what:  "at least 24h: an incident is kept at least a day after it is resolved, and one stored below that is kept until the policy is mended"})
	}
	return out
}

// runnable says why the operator cannot run the span's value, or "".
func (s span) runnable() string {
	if err := s.d.Err(); err != nil {
		return err.Error()
	}
	if v := s.d.Duration; v < s.min || v > s.max || (s.minExclusive && v <= s.min) {
		return fmt.Sprintf("%s must be %s", v, s.what)
	}
	return ""
}

// Durations checks that every duration parses and is in the range the
// operator can run.
func Durations(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	var problems []Problem
	for _, s := range spans(&policy.Spec) {
		if s.d == nil {
			continue
		}
		if why := s.runnable(); why != "" {
			problems = append(problems, Problem{Field: s.field, Reason: ReasonInvalidDuration, Message: why})
		}
	}
	return problems
}

// Plausible finds what the operator can run but is almost surely a slip,
// which the CRD refuses today and a policy stored before may hold: a
// duration below its floor or with a fraction of a second, an SLA target
// that warns from the moment of routing, an address whose domain has no
// dot. The policy still routes; its Ready condition says what to mend.
func Plausible(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	var problems []Problem
	for _, s := range spans(&policy.Spec) {
		if s.d == nil || s.runnable() != "" {
			continue
		}
		if v := s.d.Duration; v < s.floor || (s.whole && v%time.Second != 0) {
			problems = append(problems, Problem{Field: s.field, Reason: ReasonImplausibleValue, Message: fmt.Sprintf("%s must be %s", v, s.what)})
		}
	}
	if sla := policy.Spec.SLA; sla != nil {
		for i := range sla.Targets {
			problems = append(problems, warnsAtRouting(fmt.Sprintf("spec.sla.targets[%d].", i), &sla.Targets[i])...)
		}
	}
	for i := range policy.Spec.Receivers {
		e := policy.Spec.Receivers[i].Email
		if e == nil {
			continue
		}
		for _, list := range []struct {
			name      string
			addresses []string
		}{{"to", e.To}, {"cc", e.Cc}} {
			for j, address := range list.addresses {
				if CheckAddress(address) == nil && !dottedDomain(address) {
					problems = append(problems, Problem{Field: fmt.Sprintf("spec.receivers[%d].email.%s[%d]", i, list.name, j), Reason: ReasonImplausibleValue,
						Message: fmt.Sprintf("%q: its domain has no dot, so the mail server would guess the rest or keep the mail on its own host; write the whole domain, such as example.org", address)})
				}
			}
		}
	}
	return problems
}

// dottedDomain is true when the address's domain has a dot, as the CRDs'
// address patterns ask.
func dottedDomain(address string) bool {
	return strings.Contains(strings.Trim(address[strings.LastIndex(address, "@")+1:], "."), ".")
}

// warnsAtRouting finds a target whose warnBefore is as long as one of its
// deadlines: the incident would be at risk from the moment it is routed.
func warnsAtRouting(field string, t *securityv1alpha1.SLATarget) []Problem {
	warn := t.WarnBefore
	if warn == nil || warn.Err() != nil {
		return nil
	}
	var problems []Problem
	for _, deadline := range []struct {
		name string
		d    *securityv1alpha1.Duration
	}{{"acknowledgeWithin", t.AcknowledgeWithin}, {"resolveWithin", t.ResolveWithin}} {
		if deadline.d != nil && deadline.d.Err() == nil && warn.Duration >= deadline.d.Duration {
			problems = append(problems, Problem{Field: field + "warnBefore", Reason: ReasonImplausibleValue,
				Message: fmt.Sprintf("%s must be shorter than %s (%s): otherwise the incident is at risk from the moment it is routed", warn.Duration, deadline.name, deadline.d.Duration)})
		}
	}
	return problems
}

func timeoutSpan(field string, d *securityv1alpha1.Duration) span {
	return span{field: field, d: d, max: MaxTimeout, minExclusive: true, floor: MinTimeout,
		what: "at least 1s and at most 5m: connecting and being answered take more than a few milliseconds"}
}

// NotificationBound keeps one incident's notification records bounded:
// every record lives in the incident's status, which etcd stores whole.
func NotificationBound(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	targets := 0
	for _, level := range policy.Spec.Escalation.Levels {
		targets += len(level.Notify)
	}
	runs := int64(policy.Spec.Escalation.Repeat) + 1
	if total := int64(targets) * runs; total > MaxNotificationsPerChain {
		return []Problem{{Field: "spec.escalation", Reason: ReasonTooManyNotifications,
			Message: fmt.Sprintf("the chain would send %d notifications per incident (%d notify entries × %d runs); at most %d are allowed", total, targets, runs, MaxNotificationsPerChain)}}
	}
	return nil
}

// Selector checks that the label selector can be used.
func Selector(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	if policy.Spec.Match.Selector == nil {
		return nil
	}
	if _, err := metav1.LabelSelectorAsSelector(policy.Spec.Match.Selector); err != nil {
		return []Problem{{Field: "spec.match.selector", Reason: ReasonInvalidSelector, Message: err.Error()}}
	}
	return nil
}

// Expression checks that the match expression compiles, can succeed, and
// does not fail on the incidents routing meets every day.
func Expression(policy *securityv1alpha1.EscalationPolicy, env Environment) []Problem {
	source := policy.Spec.Match.Expression
	if source == "" || env.Expression == nil {
		return nil
	}
	err := env.Expression(source)
	if err == nil {
		return nil
	}
	reason := ReasonInvalidExpression
	var fails interface{ FailsOn() string }
	if errors.As(err, &fails) {
		reason = ReasonExpressionFails
	}
	return []Problem{{Field: "spec.match.expression", Reason: reason, Message: err.Error()}}
}

// Templates checks that each receiver's template parses and renders.
func Templates(policy *securityv1alpha1.EscalationPolicy, env Environment) []Problem {
	if env.Template == nil {
		return nil
	}
	var problems []Problem
	for i := range policy.Spec.Receivers {
		t := policy.Spec.Receivers[i].Template
		if t == nil {
			continue
		}
		if err := env.Template(t.Title, t.Body); err != nil {
			problems = append(problems, Problem{Field: fmt.Sprintf("spec.receivers[%d].template", i), Reason: ReasonInvalidTemplate,
				Message: fmt.Sprintf("receiver %s: %v", policy.Spec.Receivers[i].Name, err)})
		}
	}
	return problems
}

// Addresses checks that every address is one a mail server takes: a bare
// address as net/mail reads it, with no display name or comment.
func Addresses(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	var problems []Problem
	for i := range policy.Spec.Receivers {
		e := policy.Spec.Receivers[i].Email
		if e == nil {
			continue
		}
		for _, list := range []struct {
			name      string
			addresses []string
		}{{"to", e.To}, {"cc", e.Cc}} {
			for j, address := range list.addresses {
				if err := CheckAddress(address); err != nil {
					problems = append(problems, Problem{Field: fmt.Sprintf("spec.receivers[%d].email.%s[%d]", i, list.name, j), Reason: ReasonInvalidAddress, Message: err.Error()})
				}
			}
		}
	}
	return problems
}

// CheckAddress is nil for a bare e-mail address that net/mail reads back
// unchanged.
func CheckAddress(address string) error {
	parsed, err := mail.ParseAddress(address)
	if err != nil {
		return fmt.Errorf("%q is not an e-mail address: %v", address, err)
	}
	if parsed.Name != "" || parsed.Address != address {
		return fmt.Errorf("%q is not a bare e-mail address such as name@example.org", address)
	}
	return nil
}

// Channels checks that the operator can use every channel the policy does.
func Channels(policy *securityv1alpha1.EscalationPolicy, env Environment) []Problem {
	if env.MailConfigured {
		return nil
	}
	const noMail = "e-mail needs an SMTP server, and the operator has none: start it with --smtp-address and --smtp-from"
	var problems []Problem
	for i := range policy.Spec.Receivers {
		if policy.Spec.Receivers[i].Email != nil {
			problems = append(problems, Problem{Field: fmt.Sprintf("spec.receivers[%d] (%s)", i, policy.Spec.Receivers[i].Name), Reason: ReasonChannelNotConfigured, Message: noMail})
		}
	}
	roleTargets := func(field string, targets []securityv1alpha1.NotifyTarget) {
		for j, t := range targets {
			if t.Role != "" {
				problems = append(problems, Problem{Field: fmt.Sprintf("%s[%d] (role %s)", field, j, t.Role), Reason: ReasonChannelNotConfigured,
					Message: "people reached by role are sent e-mail: " + noMail})
			}
		}
	}
	for i, level := range policy.Spec.Escalation.Levels {
		roleTargets(fmt.Sprintf("spec.escalation.levels[%d].notify", i), level.Notify)
	}
	if policy.Spec.Major != nil {
		roleTargets("spec.major.notify", policy.Spec.Major.Notify)
	}
	if policy.Spec.Regulatory != nil {
		roleTargets("spec.regulatory.notify", policy.Spec.Regulatory.Notify)
	}
	return problems
}

// Calendar checks that the SLA calendar can be used.
func Calendar(policy *securityv1alpha1.EscalationPolicy, _ Environment) []Problem {
	sla := policy.Spec.SLA
	if sla == nil || sla.Calendar == nil {
		return nil
	}
	c := sla.Calendar
	if _, err := calendar.New(calendar.Spec{TimeZone: c.TimeZone, Days: c.Days, Opens: c.Opens, Closes: c.Closes, Holidays: c.Holidays}); err != nil {
		return []Problem{{Field: "spec.sla.calendar", Reason: ReasonInvalidCalendar, Message: err.Error()}}
	}
	return nil
}

// Destinations checks that every URL written in the policy itself is one
// the operator's administrator allows: any other URL comes from a Secret.
func Destinations(policy *securityv1alpha1.EscalationPolicy, env Environment) []Problem {
	var problems []Problem
	for i := range policy.Spec.Receivers {
		pd := policy.Spec.Receivers[i].PagerDuty
		if pd == nil || pd.URL == "" {
			continue
		}
		err := errNotAllowed
		if env.CheckDestination != nil {
			err = env.CheckDestination(pd.URL)
		}
		if err != nil {
			problems = append(problems, Problem{Field: fmt.Sprintf("spec.receivers[%d].pagerDuty.url", i), Reason: ReasonDestinationNotAllowed,
				Message: "the operator does not send to this URL: " + err.Error() + ". It sends only to the PagerDuty Events API and to the destinations its administrator allows (--allowed-destination); leave url unset, or ask for the destination to be allowed"})
		}
	}
	return problems
}

// DefaultDestinations are the URLs a policy may name without the
// administrator allowing more: PagerDuty's Events API, in both regions.
var DefaultDestinations = []string{"https://events.pagerduty.com/", "https://events.eu.pagerduty.com/"}

var errNotAllowed = errors.New("it is under none of the destinations the operator allows")

// AllowDestinations is a check that allows the URLs under any of prefixes
// (see destination.under) whose host, when it is an address, egress does
// not refuse; for any other URL it says why not. A prefix that is not a
// plain URL (see ValidateAllowedDestination), or whose address egress
// refuses, is an error.
func AllowDestinations(prefixes []string, egress notify.Egress) (func(url string) error, error) {
	allowed := make([]destination, 0, len(prefixes))
	for _, p := range prefixes {
		d, err := parseAllowedDestination(p)
		if err == nil {
			err = refusedHost(d, egress)
		}
		if err != nil {
			return nil, fmt.Errorf("allowed destination %q: %w", p, err)
		}
		allowed = append(allowed, d)
	}
	return func(raw string) error {
		d, err := parseDestination(raw)
		if err != nil {
			return err
		}
		if err := refusedHost(d, egress); err != nil {
			return err
		}
		for _, a := range allowed {
			if d.under(a) {
				return nil
			}
		}
		return errNotAllowed
	}, nil
}

// refusedHost says why egress refuses d's host, when it is an address that
// the operator would not connect to; nil otherwise. A host name is
// checked when it is resolved, as the operator connects.
func refusedHost(d destination, egress notify.Egress) error {
	if !d.addr.IsValid() {
		return nil
	}
	if why, refused := egress.Refusal(d.addr); refused {
		return fmt.Errorf("its host is %s, which the operator's egress rules refuse", why)
	}
	return nil
}

// ValidateAllowedDestination says why prefix cannot be an allowed
// destination, or nil when it can: it must parse as a destination, and
// have no query, fragment or dot segment.
func ValidateAllowedDestination(prefix string) error {
	_, err := parseAllowedDestination(prefix)
	return err
}

func parseAllowedDestination(prefix string) (destination, error) {
	d, err := parseDestination(prefix)
	switch {
	case err != nil:
		return d, err
	case strings.ContainsAny(prefix, "?#"):
		return d, errors.New("it has a query or fragment; an allowed destination is a scheme, host and path")
	case d.sent != d.path:
		return d, errors.New("its path has dot segments (. or ..); write it without them")
	}
	return d, nil
}

// destination is a URL as the operator compares it with the destinations
// it allows: scheme and host in lower case, the port only when it is not
// the scheme's default, an address in its canonical form, and the path in
// RFC 3986's normal form (section 6.2.2): escapes of unreserved characters
// decoded, other escapes in upper case, dot segments removed.
type destination struct {
	scheme, host, path string
	// sent is the path as the server receives it, in the same normal form
	// but with its dot segments, which a server may or may not remove.
	sent string
	// addr is the host when it is an IP address.
	addr netip.Addr
}

// under is whether d is at or below prefix: the same scheme and host, and
// prefix's path a prefix of d's that ends at a slash, so that /team-a
// allows /team-a/x but not /team-ab. The path must be under prefix's both
// with and without its dot segments removed, as servers differ on them.
func (d destination) under(prefix destination) bool {
	return d.scheme == prefix.scheme && d.host == prefix.host &&
		pathUnder(d.path, prefix.path) && pathUnder(d.sent, prefix.path)
}

func pathUnder(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// parseDestination normalises raw for comparison, or says why it cannot
// be compared unambiguously: because clients, proxies and servers read it
// differently, or because it hides where it goes. It reads the path as the
// operator's HTTP client sends it (url.URL.EscapedPath).
func parseDestination(raw string) (destination, error) {
	if strings.Contains(raw, `\`) {
		return destination{}, errors.New(`it has a backslash, which some clients and servers read as a slash`)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return destination{}, errors.New("it does not parse as a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return destination{}, errors.New("its scheme is not http or https")
	case u.Opaque != "" || u.Host == "":
		return destination{}, errors.New("it has no host")
	case u.User != nil:
		return destination{}, errors.New("it has user information before its host (user@host), which hides where it goes")
	}
	d := destination{scheme: u.Scheme}
	if d.host, d.addr, err = normalHost(u); err != nil {
		return destination{}, err
	}
	if d.path, d.sent, err = normalPath(u.EscapedPath()); err != nil {
		return destination{}, err
	}
	return d, nil
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// normalHost is u's host and port in normal form, and the host's address
// when it is one.
func normalHost(u *url.URL) (string, netip.Addr, error) {
	if strings.Contains(u.Host, "%") {
		return "", netip.Addr{}, errors.New("its host has a percent sign, an escape or an IPv6 zone")
	}
	host := u.Hostname()
	addr, err := netip.ParseAddr(host)
	switch {
	case err == nil && addr.Is6():
		host = "[" + addr.String() + "]"
	case err == nil:
		host = addr.String()
	default:
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if err := checkHostName(host); err != nil {
			return "", netip.Addr{}, err
		}
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", netip.Addr{}, errors.New("its port is not a number from 1 to 65535")
		}
		if port = strconv.Itoa(n); port != defaultPorts[u.Scheme] {
			host += ":" + port
		}
	}
	return host, addr, nil
}

// checkHostName says why name, in lower case, is not a DNS name that every
// resolver reads the same way.
func checkHostName(name string) error {
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return errors.New("its host name is not labels of letters, digits, hyphens and underscores; write an international name in its xn-- form")
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return errors.New("its host looks like an IPv4 address but is not one written as four decimal numbers, which resolvers read differently")
	}
	return nil
}

// ambiguity is what makes a path segment, seg once its escapes are
// decoded, mean different things to different servers; "" for nothing.
func ambiguity(seg string) string {
	switch {
	case strings.Contains(seg, "/"):
		return "an escaped slash (%2F), which servers read either as a slash or as part of a segment"
	case strings.Contains(seg, `\`):
		return "an escaped backslash (%5C), which some servers read as a slash"
	case strings.Contains(seg, ";"):
		return "a semicolon, after which some servers ignore the rest of a segment, so that ..; acts as .."
	case strings.Contains(seg, "%"):
		return "an escaped percent sign (%25), which a server that decodes twice reads as another escape"
	case strings.ContainsFunc(seg, unicode.IsControl):
		return "an escaped control character"
	}
	return ""
}

// normalPath is the escaped path in RFC 3986's normal form with its dot
// segments removed, and without. An empty path is /, as it is sent.
func normalPath(escaped string) (path, sent string, err error) {
	if escaped == "" {
		return "/", "/", nil
	}
	segments := strings.Split(escaped, "/")
	for i := 1; i < len(segments); i++ {
		seg := segments[i]
		if seg == "" && i < len(segments)-1 {
			return "", "", errors.New("its path has an empty segment (//), which some servers merge into one slash and others keep")
		}
		decoded, err := url.PathUnescape(seg)
		if err != nil {
			return "", "", errors.New("its path has a malformed escape")
		}
		if why := ambiguity(decoded); why != "" {
			return "", "", errors.New("its path has " + why)
		}
		segments[i] = normalSegment(seg)
	}
	return removeDotSegments(segments), strings.Join(segments, "/"), nil
}

// normalSegment decodes the escapes of unreserved characters in seg (RFC
// 3986 section 6.2.2.2), so that %2e is a dot, and writes the others in
// upper case. seg's escapes are well formed.
func normalSegment(seg string) string {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] != '%' {
			b.WriteByte(seg[i])
			continue
		}
		hex := strings.ToUpper(seg[i+1 : i+3])
		c, _ := strconv.ParseUint(hex, 16, 8)
		if unreserved(byte(c)) {
			b.WriteByte(byte(c))
		} else {
			b.WriteString("%" + hex)
		}
		i += 2
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986's remove_dot_segments (section 5.2.4) for
// an absolute path split at its slashes: a . segment goes, a .. segment
// takes the one before it along, and a path that ended in either ends in a
// slash.
func removeDotSegments(segments []string) string {
	out := make([]string, 0, len(segments))
	for i, seg := range segments[1:] {
		last := i == len(segments)-2
		switch seg {
		case ".", "..":
			if seg == ".." && len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// LeftOutOfRouting says why routing leaves a policy out, read from the
// Ready condition that the operator owning the policy wrote from these
// same checks, or "" when the policy routes. A protected cluster policy
// (protected true) is left out only when its own spec cannot work; for
// this operator's settings alone it routes, and what it cannot deliver goes
// to its fallback receiver. A condition of an older generation says
// nothing yet.
func LeftOutOfRouting(p *securityv1alpha1.EscalationPolicy, protected bool) string {
	ready := meta.FindStatusCondition(p.Status.Conditions, securityv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.ObservedGeneration != p.Generation {
		return ""
	}
	switch ready.Reason {
	case ReasonInvalidReceiver, ReasonInvalidDuration, ReasonTooManyNotifications:
		return ready.Message
	case ReasonInvalidExpression, ReasonInvalidSelector, ReasonInvalidTemplate, ReasonInvalidAddress, ReasonInvalidCalendar,
		ReasonChannelNotConfigured, ReasonDestinationNotAllowed:
		if !protected {
			return ready.Message
		}
	}
	return ""
}

// Verdict says why a policy may not route incidents, or "" when it may,
// by the checks the operator runs with its settings: a policy whose spec
// is broken (structural) is left out whatever the settings, since routing
// an incident to it would pin the incident to a chain that cannot run. A
// policy that only waits for a Secret still routes, so its deliveries go
// out once the Secret appears.
func Verdict(p *securityv1alpha1.EscalationPolicy, env Environment) (reason string, structural bool) {
	if problems := Structural(p); len(problems) > 0 {
		_, reason = Summary(problems)
		return reason, true
	}
	if blocking := Blocking(Run(p, env)); len(blocking) > 0 {
		_, reason = Summary(blocking)
	}
	return reason, false
}

// RoutesDespite is true when a policy judged unusable by Verdict routes
// all the same: a protected cluster policy is never left out for the
// operator's settings (an e-mail receiver without SMTP, a destination not
// allowed); what it cannot deliver goes to its fallback receiver.
func RoutesDespite(protected, structural bool) bool { return protected && !structural }
