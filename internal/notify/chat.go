package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// ChatTarget is a Slack incoming webhook or a Microsoft Teams workflow webhook.
type ChatTarget struct {
	URL     string
	Timeout time.Duration
}

// facts are the fields chat messages show beside the text.
func facts(msg Message) [][2]string {
	inc := msg.Incident
	out := [][2]string{
		{"Severity", string(inc.Severity)},
		{"Category", string(inc.Category)},
		{"Reporter", inc.Reporter.Name},
		{"Incident", inc.Namespace + "/" + inc.Name},
	}
	if names := impactNames(inc.Impact); len(names) > 0 {
		out = append(out, [2]string{"Impact", strings.Join(names, ", ")})
	}
	return out
}

// SlackMessage is the Block Kit message a Slack incoming webhook receives.
// The header is plain_text, which Slack shows as written and never parses for
// mentions or links, so it carries the title as rendered from the message
// itself; every mrkdwn text, and the top-level text Slack also parses, is
// rendered from the escaped message. Those texts are verbatim, so that Slack
// does not turn names in the incident's text into links or mentions either.
func SlackMessage(r *Renderer, msg Message) ([]byte, error) {
	header, _, err := r.Render(msg)
	if err != nil {
		return nil, err
	}
	escaped := escapeMessage(msg, slackEscaper)
	title, body, err := r.Render(escaped)
	if err != nil {
		return nil, err
	}
	type text struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Verbatim bool   `json:"verbatim,omitempty"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Fields   []text `json:"fields,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	mrkdwn := func(s string) text { return text{Type: "mrkdwn", Text: s, Verbatim: true} }
	fields := make([]text, 0, 5)
	for _, f := range facts(escaped) {
		fields = append(fields, mrkdwn("*"+f[0]+"*\n"+f[1]))
	}
	bodyText := mrkdwn(Truncate(body, 3000))
	return json.Marshal(map[string]any{
		"text": title, // shown in notifications and by clients without blocks
		"blocks": []block{
			{Type: "header", Text: &text{Type: "plain_text", Text: Truncate(header, 150)}},
			{Type: "section", Fields: fields},
			{Type: "section", Text: &bodyText},
			{Type: "context", Elements: []text{mrkdwn(footer(escaped))}},
		},
	})
}

// footer names the policy, level and delivery key under a chat message.
func footer(msg Message) string {
	return fmt.Sprintf("policy %s · level %d · key %s", msg.Policy, msg.Level, msg.Key)
}

// TeamsMessage is the Adaptive Card a Teams workflow webhook receives. Every
// text of a card is Markdown, so all of it is rendered from the escaped
// message.
func TeamsMessage(r *Renderer, msg Message) ([]byte, error) {
	msg = escapeMessage(msg, teamsEscaper)
	title, body, err := r.Render(msg)
	if err != nil {
		return nil, err
	}
	factSet := make([]map[string]string, 0, 5)
	for _, f := range facts(msg) {
		factSet = append(factSet, map[string]string{"title": f[0], "value": f[1]})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body": []map[string]any{
			{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true},
			{"type": "FactSet", "facts": factSet},
			{"type": "TextBlock", "text": body, "wrap": true},
			{"type": "TextBlock", "text": footer(msg), "isSubtle": true, "size": "Small", "wrap": true},
		},
	}
	return json.Marshal(map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content":     card,
		}},
	})
}

// SendChat posts a rendered chat message.
func (h *HTTP) SendChat(ctx context.Context, target ChatTarget, body []byte) error {
	return h.post(ctx, target.URL, target.Timeout, body, http.Header{})
}

// Truncate shortens s to at most n runes, marking the cut with an ellipsis.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return string([]rune(s)[:n-1]) + "…"
}
