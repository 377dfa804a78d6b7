package notify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// hostileMessage carries text in every place a reporter or a responder can
// write it.
func hostileMessage(text string) Message {
	msg := sampleMessage("Acknowledged")
	inc := &msg.Incident
	inc.Title, inc.Description, inc.Reporter.Name = text, text, text
	inc.Assets = []string{text}
	inc.Acknowledgement.Note = text
	return msg
}

// chatTemplate uses every hostile field, with markup of the author's own.
var chatTemplate = Template{
	Title: "{{.Incident.Title}}",
	Body:  "*Reported* by {{.Incident.Reporter.Name}} <https://runbook.example|Runbook>\n{{.Incident.Description}}\n{{join .Incident.Assets \", \"}}\n{{.Incident.Acknowledgement.Note}}",
}

func TestSlackMessageKeepsIncidentTextInert(t *testing.T) {
	r, err := NewRenderer(chatTemplate)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"channel mention": "<!channel> laptop lost",
		"here mention":    "<!here>",
		"user mention":    "call <@U123ABC> now",
		"group mention":   "<!subteam^S123|security>",
		"link":            "<https://evil.example/login|Reset your password>",
		"channel link":    "<#C123|general>",
		"entities":        "&lt;!channel&gt;", // must not become <!channel> when Slack decodes it
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := SlackMessage(r, hostileMessage(text))
			if err != nil {
				t.Fatal(err)
			}
			var msg struct {
				Text   string
				Blocks []struct {
					Type     string
					Text     *slackText
					Fields   []slackText
					Elements []slackText
				}
			}
			if err := json.Unmarshal(raw, &msg); err != nil {
				t.Fatal(err)
			}
			parsed := []slackText{{Type: "mrkdwn", Text: msg.Text, Verbatim: true}} // the top-level text is mrkdwn
			for _, b := range msg.Blocks {
				if b.Type == "header" {
					if b.Text.Type != "plain_text" || b.Text.Text != text {
						t.Errorf("header %+v, want the title as written in plain_text", b.Text)
					}
					continue
				}
				if b.Text != nil {
					parsed = append(parsed, *b.Text)
				}
				parsed = append(parsed, b.Fields...)
				parsed = append(parsed, b.Elements...)
			}
			escaped := slackEscaper.Replace(text)
			sawEscaped := 0
			for _, p := range parsed {
				if p.Type != "mrkdwn" || !p.Verbatim {
					t.Errorf("text %q is %s, verbatim %t; want verbatim mrkdwn", p.Text, p.Type, p.Verbatim)
				}
				if strings.Contains(p.Text, text) {
					t.Errorf("mrkdwn text carries the incident's markup as is: %q", p.Text)
				}
				if strings.Contains(p.Text, escaped) {
					sawEscaped++
				}
			}
			if sawEscaped < 3 { // text, reporter field, body
				t.Errorf("the escaped text %q is in %d texts, want 3 or more", escaped, sawEscaped)
			}
			body := parsed[len(parsed)-2].Text // the body, before the footer
			if !strings.HasPrefix(body, "*Reported* by") || !strings.Contains(body, " <https://runbook.example|Runbook>\n") {
				t.Errorf("the template's own markup is gone: %q", body)
			}
		})
	}
}

type slackText struct {
	Type     string
	Text     string
	Verbatim bool
}

func TestTeamsMessageKeepsIncidentTextInert(t *testing.T) {
	r, err := NewRenderer(Template{Title: chatTemplate.Title, Body: strings.ReplaceAll(chatTemplate.Body, "*Reported*", "**Reported**")})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		text, escaped string
	}{
		"mention":         {"<at>Everyone</at> look", `\<at\>Everyone\</at\> look`},
		"link":            {"[Reset your password](https://evil.example/login)", `\[Reset your password\](https://evil.example/login)`},
		"image":           {"![x](https://evil.example/pixel.png)", `!\[x\](https://evil.example/pixel.png)`},
		"emphasis":        {"**urgent** _now_ ~~gone~~ `code`", "\\*\\*urgent\\*\\* \\_now\\_ \\~\\~gone\\~\\~ \\`code\\`"},
		"its own escapes": {`\[x](https://evil.example)`, `\\\[x\](https://evil.example)`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := TeamsMessage(r, hostileMessage(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			var msg struct {
				Attachments []struct {
					Content struct {
						Body []struct {
							Type  string
							Text  string
							Facts []struct{ Title, Value string }
						}
					}
				}
			}
			if err := json.Unmarshal(raw, &msg); err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, b := range msg.Attachments[0].Content.Body {
				texts = append(texts, b.Text)
				for _, f := range b.Facts {
					texts = append(texts, f.Value)
				}
			}
			sawEscaped := 0
			for _, s := range texts {
				if strings.Contains(s, tc.text) {
					t.Errorf("card text carries the incident's markup as is: %q", s)
				}
				if strings.Contains(s, tc.escaped) {
					sawEscaped++
				}
			}
			if sawEscaped < 3 { // title, reporter fact, body
				t.Errorf("the escaped text %q is in %d texts, want 3 or more: %q", tc.escaped, sawEscaped, texts)
			}
			if body := texts[len(texts)-2]; !strings.HasPrefix(body, "**Reported** by") {
				t.Errorf("the template's own markup is gone: %q", body)
			}
		})
	}
}

func TestEscapeMessageReachesEveryStringAndCopies(t *testing.T) {
	// An empty old string puts "<" between every two characters, and into
	// every string, empty ones included.
	msg := escapeMessage(sampleMessage("Resolved"), strings.NewReplacer("", "<"))
	escaped := escapeMessage(msg, slackEscaper)
	var before, after []string
	eachString(reflect.ValueOf(msg), func(s string) { before = append(before, s) })
	eachString(reflect.ValueOf(escaped), func(s string) { after = append(after, s) })
	if len(before) < 20 || len(before) != len(after) {
		t.Fatalf("%d strings before, %d after", len(before), len(after))
	}
	for i := range before {
		if !strings.Contains(before[i], "<") {
			t.Errorf("the original lost its text: %q", before[i])
		}
		if strings.Contains(after[i], "<") {
			t.Errorf("string %d was not escaped: %q", i, after[i])
		}
	}
	if !escaped.Incident.AwareAt.Equal(*msg.Incident.AwareAt) || !escaped.Incident.SLA.ResolveBy.Equal(msg.Incident.SLA.ResolveBy) {
		t.Errorf("times changed in the copy")
	}
}

// eachString calls f for every string an exported path reaches from v.
func eachString(v reflect.Value, f func(string)) {
	switch v.Kind() {
	case reflect.String:
		f(v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			eachString(v.Elem(), f)
		}
	case reflect.Slice:
		for i := range v.Len() {
			eachString(v.Index(i), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				eachString(v.Field(i), f)
			}
		}
	}
}
