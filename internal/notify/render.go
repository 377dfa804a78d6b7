package notify

import (
	"errors"
	"fmt"
	"strings"
	"text/template"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Template is the text of a notification: a one-line title and a body, each
// a Go text/template over a Message.
type Template struct {
	Title string
	Body  string
}

// Limits on templates and on what they render. A policy author writes the
// templates and an incident reporter the text they show, so neither may make
// a render slow or its output large.
const (
	// MaxTitleTemplateBytes and MaxBodyTemplateBytes bound a template's
	// source, as the EscalationPolicy schema does.
	MaxTitleTemplateBytes = 1 << 10
	MaxBodyTemplateBytes  = 16 << 10
	// MaxRangeDepth is how deeply range actions may nest.
	MaxRangeDepth = 2
	// MaxTitleBytes and MaxBodyBytes bound the rendered title and body; a
	// template that writes more fails to render.
	MaxTitleBytes = 1 << 10
	MaxBodyBytes  = 64 << 10
)

// DefaultTemplate serves every channel unless a policy overrides it.
var DefaultTemplate = Template{
	Title: `{{with .Notice}}{{.}}: {{end}}[{{.Incident.Severity}}] {{.Incident.Title}}`,
	Body: `{{- if eq .Notice "Acknowledged"}}Acknowledged by {{.Incident.Acknowledgement.By}}.{{with .Incident.Acknowledgement.Note}} {{.}}{{end}}

{{else if eq .Notice "Resolved"}}{{.Incident.Resolution.State}}, by {{.Incident.Resolution.By}}.{{with .Incident.Resolution.Summary}} {{.}}{{end}}

{{else if eq .Notice "Escalated"}}Nobody has acknowledged this incident yet, so it has been escalated.

{{else if eq .Notice "SLAAtRisk"}}The service level for this incident may not be met{{with .Incident.SLA}}{{with .AcknowledgeBy}}: it should be acknowledged by {{.UTC.Format "Mon 2 Jan 15:04 MST"}}{{end}}{{with .ResolveBy}}; resolved by {{.UTC.Format "Mon 2 Jan 15:04 MST"}}{{end}}{{end}}.

{{else if eq .Notice "Major"}}This is a major incident.

{{else if eq .Notice "AwaitingAgreement"}}{{with .Obligation}}The {{.Stage}} of {{.Regime}} ({{.Citation}}) awaits your agreement{{with .Filing}} (Filing {{.}}){{end}}: {{.Missing}}.{{end}}

{{else if eq .Notice "ObligationDue"}}{{with .Obligation}}The {{.Stage}} of {{.Regime}} ({{.Citation}}) is due{{with .Deadline}} by {{.UTC.Format "Mon 2 Jan 15:04 MST"}}{{end}} and is not agreed: {{.Missing}}.{{end}}

{{end -}}
{{.Incident.Type}} {{.Incident.Namespace}}/{{.Incident.Name}}: {{.Incident.Category}}, severity {{.Incident.Severity}}.
Reported by {{.Incident.Reporter.Name}}{{with .Incident.Reporter.Department}} ({{.}}){{end}}.
{{- with .Incident.Description}}

{{.}}{{end}}
{{- with .Incident.Assets}}

Assets: {{join . ", "}}{{end}}
{{- with impacts .Incident.Impact}}

Impact: {{join . ", "}}{{end}}

Policy {{.Policy}}, level {{.Level}}.
{{- with .FallbackFor}}
You receive this because {{.}} could not be notified.{{end}}`,
}

// part is the title or the body of a template, with its limits.
type part struct {
	name      string
	maxSource int
	maxOutput int
}

var (
	titlePart = part{name: "title", maxSource: MaxTitleTemplateBytes, maxOutput: MaxTitleBytes}
	bodyPart  = part{name: "body", maxSource: MaxBodyTemplateBytes, maxOutput: MaxBodyBytes}
)

// TemplateError is a template that does not parse, is refused, or fails to
// render. It is permanent: the same template fails the same way again.
type TemplateError struct {
	// Part is "title" or "body".
	Part string
	Err  error
}

func (e *TemplateError) Error() string { return e.Part + " template: " + e.Err.Error() }
func (e *TemplateError) Unwrap() error { return e.Err }

// Renderer renders one channel's text for messages.
type Renderer struct {
	title, body *template.Template
}

// NewRenderer parses a template; empty parts fall back to DefaultTemplate.
// It refuses templates that could make a render slow: loops over anything
// but a list, loops nested more than MaxRangeDepth deep, calls of other
// templates, and sources over the size limits. The error names the part.
func NewRenderer(t Template) (*Renderer, error) {
	if t.Title == "" {
		t.Title = DefaultTemplate.Title
	}
	if t.Body == "" {
		t.Body = DefaultTemplate.Body
	}
	title, err := parseTemplate(titlePart, t.Title)
	if err != nil {
		return nil, err
	}
	body, err := parseTemplate(bodyPart, t.Body)
	if err != nil {
		return nil, err
	}
	return &Renderer{title: title, body: body}, nil
}

func parseTemplate(p part, src string) (*template.Template, error) {
	if len(src) > p.maxSource {
		return nil, &TemplateError{Part: p.name, Err: fmt.Errorf("it is %d bytes long; at most %d are allowed", len(src), p.maxSource)}
	}
	t, err := template.New(p.name).Funcs(parseFuncs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, &TemplateError{Part: p.name, Err: err}
	}
	if err := checkTree(t.Tree, src); err != nil {
		return nil, &TemplateError{Part: p.name, Err: err}
	}
	return t, nil
}

// Render executes the templates for a message. Each part stops with an
// error once it writes more than its limit (MaxTitleBytes, MaxBodyBytes) or
// its loops and functions use up their budget.
//
// There is no wall-clock limit: text/template cannot be interrupted, and a
// render abandoned to a timer would keep a goroutine burning CPU. The work is
// bounded instead: no loops but range over lists, each range charging its
// iterations times its size to a step budget before it starts, functions
// charging the text they make, and a bounded source with no template calls.
func (r *Renderer) Render(msg Message) (title, body string, err error) {
	if msg.IncidentMessage == nil {
		return "", "", errors.New("a template renders messages about incidents; this message is about a report's run")
	}
	data := templateData{Key: msg.Key, Notice: msg.Notice, IncidentMessage: msg.IncidentMessage}
	if title, err = render(r.title, titlePart, data); err != nil {
		return "", "", err
	}
	if body, err = render(r.body, bodyPart, data); err != nil {
		return "", "", err
	}
	return title, body, nil
}

// templateData is what a policy's template sees: the envelope and the
// incident. A report's messages have a fixed text and never reach one.
type templateData struct {
	Key    string
	Notice string
	*IncidentMessage
}

func render(t *template.Template, p part, data templateData) (string, error) {
	// Each render gets its own budget, so the functions are bound to it on a
	// copy that shares the parsed tree.
	t, err := t.Clone()
	if err != nil {
		return "", &TemplateError{Part: p.name, Err: err}
	}
	t.Funcs((&budget{}).funcs())
	w := &limitedWriter{limit: p.maxOutput}
	if err := t.Execute(w, data); err != nil {
		if errors.Is(err, errOutputLimit) {
			err = fmt.Errorf("the rendered %s is longer than %d bytes", p.name, p.maxOutput)
		}
		return "", &TemplateError{Part: p.name, Err: err}
	}
	return strings.TrimSpace(w.String()), nil
}

var errOutputLimit = errors.New("output limit reached")

// limitedWriter fails the write that would take it past limit, which stops
// the template.
type limitedWriter struct {
	strings.Builder
	limit int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.limit {
		return 0, errOutputLimit
	}
	return w.Builder.Write(p)
}

// Check renders the templates for every notice about a sample incident, and
// for a new incident that has none of the optional parts, so that a template
// that fails when it runs (a field of an acknowledgement that is not there
// yet, a function given the wrong kind of value) is reported when the policy
// is reconciled rather than when an incident arrives.
func (r *Renderer) Check() error {
	for _, notice := range notices {
		if _, _, err := r.Render(sampleMessage(notice)); err != nil {
			what := "a first notification"
			if notice != "" {
				what = "a " + notice + " notice"
			}
			return fmt.Errorf("%w (when rendering %s)", err, what)
		}
	}
	if _, _, err := r.Render(newIncidentMessage()); err != nil {
		return fmt.Errorf("%w (when rendering a new incident without description, assets, acknowledgement or resolution)", err)
	}
	return nil
}

// impactNames lists the impact flags an incident has, as people say them.
func impactNames(i securityv1alpha1.Impact) []string {
	var out []string
	for _, f := range []struct {
		set  bool
		name string
	}{
		{i.PersonalData, "personal data"},
		{i.SpecialCategoryData, "special-category data"},
		{i.SocialCare, "social care"},
		{i.ITRelated, "IT-related"},
		{i.ServiceAffecting, "service affecting"},
		{i.BusinessCritical, "business critical"},
		{i.SecurityBreach, "security breach"},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	if i.DataSubjects != nil {
		out = append(out, fmt.Sprintf("%d data subjects", *i.DataSubjects))
	}
	return out
}

// CheckTemplate parses a receiver's title and body and renders them on
// every sample message, as a policy's Ready check does.
func CheckTemplate(title, body string) error {
	r, err := NewRenderer(Template{Title: title, Body: body})
	if err != nil {
		return err
	}
	return r.Check()
}
