package notify

import (
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

// DefaultTemplate serves every channel unless a policy overrides it.
var DefaultTemplate = Template{
	Title: `{{with .Notice}}{{.}}: {{end}}[{{.Incident.Severity}}] {{.Incident.Title}}`,
	Body: `{{- if eq .Notice "Acknowledged"}}Acknowledged by {{.Incident.Acknowledgement.By}}.{{with .Incident.Acknowledgement.Note}} {{.}}{{end}}

{{else if eq .Notice "Resolved"}}{{.Incident.Resolution.State}}, by {{.Incident.Resolution.By}}.{{with .Incident.Resolution.Summary}} {{.}}{{end}}

{{else if eq .Notice "Escalated"}}Nobody has acknowledged this incident yet, so it has been escalated.

{{else if eq .Notice "SLAAtRisk"}}The service level for this incident may not be met{{with .Incident.SLA}}{{with .AcknowledgeBy}}: it should be acknowledged by {{.UTC.Format "Mon 2 Jan 15:04 MST"}}{{end}}{{with .ResolveBy}}; resolved by {{.UTC.Format "Mon 2 Jan 15:04 MST"}}{{end}}{{end}}.

{{else if eq .Notice "Major"}}This is a major incident.

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

// Renderer renders one channel's text for messages.
type Renderer struct {
	title, body *template.Template
}

var funcs = template.FuncMap{
	"join":    strings.Join,
	"impacts": impactNames,
}

// NewRenderer parses a template; empty parts fall back to DefaultTemplate.
// The error names the part that does not parse.
func NewRenderer(t Template) (*Renderer, error) {
	if t.Title == "" {
		t.Title = DefaultTemplate.Title
	}
	if t.Body == "" {
		t.Body = DefaultTemplate.Body
	}
	title, err := template.New("title").Funcs(funcs).Option("missingkey=error").Parse(t.Title)
	if err != nil {
		return nil, fmt.Errorf("title template: %w", err)
	}
	body, err := template.New("body").Funcs(funcs).Option("missingkey=error").Parse(t.Body)
	if err != nil {
		return nil, fmt.Errorf("body template: %w", err)
	}
	return &Renderer{title: title, body: body}, nil
}

// Render executes the templates for a message.
func (r *Renderer) Render(msg Message) (title, body string, err error) {
	var sb strings.Builder
	if err := r.title.Execute(&sb, msg); err != nil {
		return "", "", fmt.Errorf("title template: %w", err)
	}
	title = strings.TrimSpace(sb.String())
	sb.Reset()
	if err := r.body.Execute(&sb, msg); err != nil {
		return "", "", fmt.Errorf("body template: %w", err)
	}
	return title, strings.TrimSpace(sb.String()), nil
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
