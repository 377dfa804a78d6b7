package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
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
func SlackMessage(r *Renderer, msg Message) ([]byte, error) {
	title, body, err := r.Render(msg)
	if err != nil {
		return nil, err
	}
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Fields   []text `json:"fields,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	fields := make([]text, 0, 5)
	for _, f := range facts(msg) {
		fields = append(fields, text{Type: "mrkdwn", Text: "*" + f[0] + "*\n" + f[1]})
	}
	return json.Marshal(map[string]any{
		"text": title, // shown in notifications and by clients without blocks
		"blocks": []block{
			{Type: "header", Text: &text{Type: "plain_text", Text: Truncate(title, 150)}},
			{Type: "section", Fields: fields},
			{Type: "section", Text: &text{Type: "mrkdwn", Text: Truncate(body, 3000)}},
			{Type: "context", Elements: []text{{Type: "mrkdwn", Text: fmt.Sprintf("policy %s · level %d · key %s", msg.Policy, msg.Level, msg.Key)}}},
		},
	})
}

// TeamsMessage is the Adaptive Card a Teams workflow webhook receives.
func TeamsMessage(r *Renderer, msg Message) ([]byte, error) {
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
			{"type": "TextBlock", "text": fmt.Sprintf("policy %s · level %d · key %s", msg.Policy, msg.Level, msg.Key), "isSubtle": true, "size": "Small", "wrap": true},
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
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
