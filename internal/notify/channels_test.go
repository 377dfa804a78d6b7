package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// captured is one request a loopback receiver got.
type captured struct {
	header http.Header
	body   []byte
}

func receiver(t *testing.T, status int) (*httptest.Server, <-chan captured) {
	t.Helper()
	got := make(chan captured, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- captured{header: r.Header.Clone(), body: body}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestWebhookSignatureVerifies(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	key := []byte("signing-key")
	at := time.Unix(1_790_000_000, 0)
	if err := (&HTTP{}).SendWebhook(context.Background(), WebhookTarget{URL: srv.URL, SigningKey: key}, sampleMessage(""), at); err != nil {
		t.Fatal(err)
	}
	req := <-got
	sig := req.header.Get(SignatureHeader)
	ts, v1, ok := strings.Cut(sig, ",v1=")
	if !ok || ts != "t="+strconv.FormatInt(at.Unix(), 10) {
		t.Fatalf("signature header %q, want t=<unix>,v1=<hex>", sig)
	}
	// Verify as a receiver would.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.TrimPrefix(ts, "t=") + "."))
	mac.Write(req.body)
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(v1), []byte(want)) {
		t.Errorf("signature %s does not verify (want %s)", v1, want)
	}
	if req.header.Get(IdempotencyKeyHeader) != "0123456789abcdef" {
		t.Errorf("Idempotency-Key = %q", req.header.Get(IdempotencyKeyHeader))
	}

	// Without a key there is no signature.
	if err := (&HTTP{}).SendWebhook(context.Background(), WebhookTarget{URL: srv.URL}, sampleMessage(""), at); err != nil {
		t.Fatal(err)
	}
	if sig := (<-got).header.Get(SignatureHeader); sig != "" {
		t.Errorf("unsigned request carries %q", sig)
	}
}

func TestDefaultTemplate(t *testing.T) {
	r, err := NewRenderer(Template{})
	if err != nil {
		t.Fatal(err)
	}
	title, body, err := r.Render(sampleMessage(""))
	if err != nil {
		t.Fatal(err)
	}
	if title != "[High] Finance laptop left on a train" {
		t.Errorf("title = %q", title)
	}
	for _, want := range []string{
		"Incident council/lost-laptop: Loss, severity High.",
		"Reported by Priya Shah (Finance).",
		"Assets: laptop-fin-0142",
		"Impact: personal data, IT-related, 240 data subjects",
		"Policy personal-data-breach, level 0.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestTemplateOverridesAndErrors(t *testing.T) {
	r, err := NewRenderer(Template{Title: "{{.Incident.Category}} at {{.Incident.Name}}"})
	if err != nil {
		t.Fatal(err)
	}
	title, body, err := r.Render(sampleMessage(""))
	if err != nil || title != "Loss at lost-laptop" || !strings.Contains(body, "Reported by") {
		t.Errorf("title %q, body %q, err %v: want the override and the default body", title, body, err)
	}

	cases := map[string]struct {
		tmpl Template
		want string
	}{
		"title does not parse": {Template{Title: "{{.Incident.Title"}, "title template"},
		"body does not parse":  {Template{Body: "{{if}}"}, "body template"},
		"unknown function":     {Template{Body: "{{shout .Incident.Title}}"}, `function "shout" not defined`},
		"unknown field":        {Template{Body: "{{.Incident.Nonsense}}"}, "body template: line 1: .Incident.Nonsense: there is no field Nonsense here"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := NewRenderer(tc.tmpl); err == nil || !strings.Contains(err.Error(), tc.want) || !IsPermanent(err) {
				t.Fatalf("got %v, want a permanent error containing %q", err, tc.want)
			}
		})
	}
}

func TestSlackMessageIsBlockKit(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	r, _ := NewRenderer(Template{})
	body, err := SlackMessage(r, sampleMessage(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := (&HTTP{}).SendChat(context.Background(), ChatTarget{URL: srv.URL}, body); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct{ Text string } `json:"fields"`
		} `json:"blocks"`
	}
	req := <-got
	if err := json.Unmarshal(req.body, &msg); err != nil {
		t.Fatal(err)
	}
	if req.header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", req.header.Get("Content-Type"))
	}
	if msg.Text != "[High] Finance laptop left on a train" || len(msg.Blocks) != 4 {
		t.Fatalf("message = %+v", msg)
	}
	if b := msg.Blocks[0]; b.Type != "header" || b.Text.Type != "plain_text" || b.Text.Text != msg.Text {
		t.Errorf("header block = %+v", b)
	}
	if b := msg.Blocks[1]; b.Type != "section" || len(b.Fields) != 5 || b.Fields[0].Text != "*Severity*\nHigh" {
		t.Errorf("fields block = %+v", b)
	}
	if b := msg.Blocks[2]; b.Text.Type != "mrkdwn" || !strings.Contains(b.Text.Text, "Reported by Priya Shah") {
		t.Errorf("body block = %+v", b)
	}
}

func TestTeamsMessageIsAnAdaptiveCard(t *testing.T) {
	srv, got := receiver(t, http.StatusAccepted)
	r, _ := NewRenderer(Template{})
	body, err := TeamsMessage(r, sampleMessage(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := (&HTTP{}).SendChat(context.Background(), ChatTarget{URL: srv.URL}, body); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal((<-got).body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("envelope = %+v", msg)
	}
	card := msg.Attachments[0].Content
	if card.Type != "AdaptiveCard" || card.Body[0]["text"] != "[High] Finance laptop left on a train" || card.Body[1]["type"] != "FactSet" {
		t.Errorf("card = %+v", card)
	}
}

func TestPagerDutyEvent(t *testing.T) {
	srv, got := receiver(t, http.StatusAccepted)
	r, _ := NewRenderer(Template{})
	msg := sampleMessage("")
	trigger, err := PagerDutyEvent(r, msg, "routing-key-1", PagerDutyTrigger)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&HTTP{}).SendPagerDuty(context.Background(), PagerDutyTarget{URL: srv.URL + "/v2/enqueue"}, trigger); err != nil {
		t.Fatal(err)
	}
	var event struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     *struct {
			Summary  string `json:"summary"`
			Source   string `json:"source"`
			Severity string `json:"severity"`
			Class    string `json:"class"`
		} `json:"payload"`
	}
	if err := json.Unmarshal((<-got).body, &event); err != nil {
		t.Fatal(err)
	}
	if event.RoutingKey != "routing-key-1" || event.EventAction != "trigger" || event.DedupKey != "uid-42" || event.Payload == nil {
		t.Fatalf("event = %+v", event)
	}
	if p := event.Payload; p.Severity != "error" || p.Summary != "[High] Finance laptop left on a train" || p.Source != "incident-operator/council" || p.Class != "Loss" {
		t.Errorf("payload = %+v", p)
	}

	// A later escalation of the same incident shares the dedup_key; resolve
	// carries it and no payload.
	msg.Level, msg.Key = 1, "other"
	again, _ := PagerDutyEvent(r, msg, "routing-key-1", PagerDutyTrigger)
	resolve, _ := PagerDutyEvent(r, msg, "routing-key-1", PagerDutyResolve)
	for _, raw := range [][]byte{again, resolve} {
		var e map[string]any
		_ = json.Unmarshal(raw, &e)
		if e["dedup_key"] != "uid-42" {
			t.Errorf("dedup_key = %v, want the incident UID", e["dedup_key"])
		}
	}
	var r2 map[string]any
	_ = json.Unmarshal(resolve, &r2)
	if r2["event_action"] != "resolve" || r2["payload"] != nil {
		t.Errorf("resolve event = %v", r2)
	}
}

func TestNoticesRenderWhatChanged(t *testing.T) {
	r, err := NewRenderer(Template{})
	if err != nil {
		t.Fatal(err)
	}
	msg := sampleMessage("")
	msg.Notice = "Resolved"
	msg.Incident.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "Dee", Summary: "The laptop was in a drawer."}
	title, body, err := r.Render(msg)
	if err != nil {
		t.Fatal(err)
	}
	if title != "Resolved: [High] Finance laptop left on a train" || !strings.HasPrefix(body, "FalsePositive, by Dee. The laptop was in a drawer.\n\nIncident council/lost-laptop") {
		t.Errorf("resolution notice:\n%s\n%s", title, body)
	}
	if got := PagerDutyAction(msg); got != PagerDutyResolve {
		t.Errorf("PagerDuty action for a resolution = %s", got)
	}
	msg.Notice = "Acknowledged"
	msg.Incident.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Eve", Note: "On it."}
	if _, body, _ := r.Render(msg); !strings.HasPrefix(body, "Acknowledged by Eve. On it.") {
		t.Errorf("acknowledgement notice body:\n%s", body)
	}
	if got := PagerDutyAction(msg); got != PagerDutyAcknowledge {
		t.Errorf("PagerDuty action for an acknowledgement = %s", got)
	}
	event, err := PagerDutyEvent(r, msg, "key", PagerDutyAction(msg))
	if err != nil || strings.Contains(string(event), "payload") || !strings.Contains(string(event), `"event_action":"acknowledge"`) {
		t.Errorf("acknowledge event = %s (%v)", event, err)
	}
}
