package notify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/incidentops/incident-operator/internal/notify"
)

// binaryDocument has every byte value, long lines and no line breaks where
// a mail would want them: what an XLSX (a zip) looks like to a mailer.
func binaryDocument() []byte {
	var b bytes.Buffer
	for i := range 20_000 {
		b.WriteByte(byte(i * 7))
	}
	return b.Bytes()
}

func reportMessage(t *testing.T, doc *notify.Document) notify.Message {
	t.Helper()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	to := time.Date(2026, time.March, 30, 9, 0, 0, 0, london)
	return notify.Message{Key: "3b25afae0c1d", ReportMessage: &notify.ReportMessage{
		Report: "weekly-control", Namespace: "council", ReportUID: "0f6c-report", Kind: "ControlDocument",
		Run: "2026-03-30T08:00:00Z", From: to.AddDate(0, 0, -7), To: to, Incidents: 14, Document: doc,
	}}
}

// reportMail is the mail of msg, with the report's fixed text, as the
// e-mail receiver makes it.
func reportMail(msg notify.Message, date time.Time, to ...string) notify.Mail {
	subject, text := notify.ReportText(msg)
	return notify.Mail{To: to, Subject: subject, Text: text, Message: msg, Date: date}
}

// The document arrives as an attachment that decodes to the same bytes,
// under its name and type, beside a text that gives its digest; the mail
// keeps every line within RFC 5322's limit and threads a report's runs.
func TestComposeReportMailAttachesTheDocument(t *testing.T) {
	content := binaryDocument()
	doc := notify.NewDocument("XLSX", "weekly-control-2026-03-30-0900.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", content)
	msg := reportMessage(t, doc)
	raw, err := notify.ComposeMail("Incident operator <incidents@council.example>",
		reportMail(msg, time.Date(2026, time.March, 30, 8, 0, 5, 0, time.UTC), "mi-manager@council.example"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > maxLine {
			t.Fatalf("line %d is %d octets long", i+1, len(line))
		}
	}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := r.Header.MessageID(); id != "3b25afae0c1d@incidentops.io" {
		t.Errorf("Message-ID %q, want the delivery's key", id)
	}
	if refs, _ := r.Header.MsgIDList("References"); !slices.Equal(refs, []string{"report-0f6c-report@incidentops.io"}) {
		t.Errorf("References %v, want the report's thread", refs)
	}
	if subject, _ := r.Header.Subject(); subject != "Control document of council/weekly-control, run 2026-03-30T08:00:00Z" {
		t.Errorf("subject %q", subject)
	}
	var text string
	var attachments [][]byte
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			text = string(body)
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			mediaType, _, _ := h.ContentType()
			if name != doc.Filename || mediaType != doc.ContentType {
				t.Errorf("attachment %s of type %s, want %s of type %s", name, mediaType, doc.Filename, doc.ContentType)
			}
			attachments = append(attachments, body)
		}
	}
	if len(attachments) != 1 || !bytes.Equal(attachments[0], content) {
		t.Fatalf("%d attachments; the document does not decode to the bytes sent", len(attachments))
	}
	for _, want := range []string{doc.SHA256, "14 incidents reported from 2026-03-23 09:00 GMT to 2026-03-30 09:00 BST", doc.Filename,
		"kubectl incident review sign-off weekly-control -n council --run 2026-03-30T08:00:00Z"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text does not say %q:\n%s", want, text)
		}
	}
}

// The notice that a review is overdue is a short text alone.
func TestComposeReportMailNoticeHasNoAttachment(t *testing.T) {
	msg := reportMessage(t, nil)
	msg.Notice = notify.NoticeReviewOverdue
	due := msg.To.Add(48 * time.Hour)
	msg.ReviewDueAt = &due
	raw, err := notify.ComposeMail("incidents@council.example", reportMail(msg, due, "deputy@council.example"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if subject, _ := r.Header.Subject(); subject != "Review overdue: council/weekly-control, run 2026-03-30T08:00:00Z" {
		t.Errorf("subject %q", subject)
	}
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(p.Body)
	if _, inline := p.Header.(*mail.InlineHeader); !inline || !strings.Contains(string(body), "signed off by 2026-04-01 09:00 BST") {
		t.Errorf("the notice's text:\n%s", body)
	}
	if _, err := r.NextPart(); !errors.Is(err, io.EOF) {
		t.Errorf("the notice has a second part: %v", err)
	}
}

// A webhook gets the document as JSON with the file in base64, beside the
// envelope's key and nothing of an incident's, under the delivery's key,
// signed; a refusal is permanent as for any notification.
func TestWebhookPostsTheDocument(t *testing.T) {
	content := binaryDocument()
	doc := notify.NewDocument("XLSX", "weekly.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", content)
	msg := reportMessage(t, doc)
	var header http.Header
	var body []byte
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header, body = r.Header.Clone(), must(io.ReadAll(r.Body))
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	h := &notify.HTTP{Client: srv.Client()}
	now := time.Unix(1774857605, 0)
	target := notify.WebhookTarget{URL: srv.URL, SigningKey: []byte("records-key")}
	if err := h.SendWebhook(t.Context(), target, msg, now); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"content", "contentType", "filename", "format", "from", "idempotencyKey", "incidents", "kind", "namespace", "report", "run", "sha256", "to"}
	if !slices.Equal(keys, want) {
		t.Errorf("fields %v, want %v", keys, want)
	}
	decoded, err := base64.StdEncoding.DecodeString(fields["content"].(string))
	if err != nil || !bytes.Equal(decoded, content) || fields["sha256"] != doc.SHA256 || fields["to"] != "2026-03-30T09:00:00+01:00" {
		t.Errorf("content decodes to %d bytes (%v), sha256 %v, to %v", len(decoded), err, fields["sha256"], fields["to"])
	}
	if header.Get(notify.IdempotencyKeyHeader) != msg.Key || header.Get(notify.SignatureHeader) != notify.Sign([]byte("records-key"), now, body) {
		t.Errorf("headers %v", header)
	}

	status = http.StatusGone
	if err := h.SendWebhook(t.Context(), target, msg, now); !notify.IsPermanent(err) {
		t.Errorf("a 410 is %v, want a permanent failure", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The breach register's mail calls it so, and gives no period: the
// register holds every breach.
func TestReportTextOfTheBreachRegister(t *testing.T) {
	msg := reportMessage(t, notify.NewDocument("XLSX", "register-2026-03-30-0900.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", []byte("x")))
	msg.Kind, msg.Report, msg.Incidents = "BreachRegister", "breach-register", 3
	subject, text := notify.ReportText(msg)
	if subject != "Breach register of council/breach-register, run 2026-03-30T08:00:00Z" {
		t.Errorf("subject %q", subject)
	}
	if want := "The breach register of IncidentReport council/breach-register for run 2026-03-30T08:00:00Z is attached: 3 personal data breaches, every one recorded."; !strings.HasPrefix(text, want) {
		t.Errorf("text:\n%s\nwant it to start\n%s", text, want)
	}
}
