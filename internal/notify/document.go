package notify

// A report's messages: the document a run made, posted as JSON or mailed
// as an attachment, and the notice that a run's review is overdue.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
)

// NoticeReviewOverdue is the notice that a run was not signed off in time.
const NoticeReviewOverdue = "ReviewOverdue"

// ReportMessage is what a report's receiver is told about one run: its
// document, or, with Notice set, something about the run.
type ReportMessage struct {
	// Key is the delivery's idempotency key.
	Key       string `json:"idempotencyKey"`
	Report    string `json:"report"`
	Namespace string `json:"namespace"`
	// ReportUID threads every mail about one report.
	ReportUID string `json:"-"`
	// Kind is ControlDocument, Summary or BreachRegister.
	Kind string `json:"kind"`
	// Run is the run's ID: its scheduled time, RFC 3339 in UTC.
	Run string `json:"run"`
	// From and To bound the period, in the report's time zone.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Incidents is how many incidents the document covers.
	Incidents int `json:"incidents"`
	// Notice, when set, says what the message tells instead of carrying
	// the document: NoticeReviewOverdue.
	Notice      string     `json:"notice,omitempty"`
	ReviewDueAt *time.Time `json:"reviewDueAt,omitempty"`
	// Document is the file, for a run's delivery; nil for a notice.
	*Document
}

// Document is a report's file. In JSON its content is base64.
type Document struct {
	Format      string `json:"format"`
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Content     []byte `json:"content"`
	// SHA256 is the hex SHA-256 of Content.
	SHA256 string `json:"sha256"`
}

// NewDocument is the document holding content, with its digest.
func NewDocument(format, filename, contentType string, content []byte) *Document {
	sum := sha256.Sum256(content)
	return &Document{Format: format, Filename: filename, ContentType: contentType, Content: content, SHA256: hex.EncodeToString(sum[:])}
}

// SendReport posts the message as JSON with its idempotency key and, when
// the target has a signing key, a signature, as SendWebhook does.
func (h *HTTP) SendReport(ctx context.Context, target WebhookTarget, msg ReportMessage, now time.Time) error {
	return h.sendJSON(ctx, target, msg.Key, msg, now)
}

// ReportMail is one e-mail about a report's run.
type ReportMail struct {
	To, Cc  []string
	Message ReportMessage
	Date    time.Time
}

// SendReport mails the message: its document as an attachment, or the
// notice alone.
func (m *Mailer) SendReport(ctx context.Context, rm ReportMail) error {
	body, err := ComposeReportMail(m.Server.From, rm)
	if err != nil {
		return err
	}
	return m.submit(ctx, append(append([]string(nil), rm.To...), rm.Cc...), body)
}

// reportTimeLayout is how the mail writes times: in the report's zone,
// named, since the reader may be elsewhere.
const reportTimeLayout = "2006-01-02 15:04 MST"

// ReportText is the subject and the plain text of a report's mail.
func ReportText(msg ReportMessage) (subject, text string) {
	noun := "control document"
	period := fmt.Sprintf("incidents reported from %s to %s", msg.From.Format(reportTimeLayout), msg.To.Format(reportTimeLayout))
	switch msg.Kind {
	case "Summary":
		noun = "summary"
	case "BreachRegister":
		// The register is kept whole: it has no period.
		noun, period = "breach register", "personal data breaches, every one recorded"
	}
	what := "The " + noun
	name := msg.Namespace + "/" + msg.Report
	if msg.Notice == NoticeReviewOverdue {
		due := ""
		if msg.ReviewDueAt != nil {
			due = " by " + msg.ReviewDueAt.In(msg.To.Location()).Format(reportTimeLayout)
		}
		subject = fmt.Sprintf("Review overdue: %s, run %s", name, msg.Run)
		text = fmt.Sprintf("%s of IncidentReport %s for run %s (%s) was to be reviewed and signed off%s, and has not been.\n\n%s",
			what, name, msg.Run, period, due, signOffHint(msg))
		return subject, text
	}
	subject = fmt.Sprintf("%s%s of %s, run %s", strings.ToUpper(noun[:1]), noun[1:], name, msg.Run)
	text = fmt.Sprintf("%s of IncidentReport %s for run %s is attached: %d %s.", what, name, msg.Run, msg.Incidents, period)
	if msg.Document != nil {
		text += fmt.Sprintf("\n\nFile: %s (%s, %d bytes)\nSHA-256: %s", msg.Filename, msg.Format, len(msg.Content), msg.SHA256)
	}
	text += "\n\nOnce reviewed, sign the run off:\n" + signOffHint(msg)
	return subject, text
}

// signOffHint is the command that signs the run off.
func signOffHint(msg ReportMessage) string {
	return fmt.Sprintf("    kubectl incident review sign-off %s -n %s --run %s --note \"...\"", msg.Report, msg.Namespace, msg.Run)
}

// reportThreadMsgID is what every mail about one report refers to, so that
// mail clients keep a report's runs in one thread.
func reportThreadMsgID(reportUID string) string { return "report-" + reportUID + "@" + messageIDDomain }

// ComposeReportMail renders the RFC 5322 message: the text, and the
// document as a base64 attachment under its filename and content type.
// go-message writes it, as it does ComposeMail's.
func ComposeReportMail(from string, m ReportMail) ([]byte, error) {
	subject, text := ReportText(m.Message)
	h, err := mailHeader(from, m.To, m.Cc, subject, m.Date, m.Message.Key, reportThreadMsgID(m.Message.ReportUID))
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	if m.Message.Document == nil {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		w, err := mail.CreateSingleInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		return closed(&buf, w, text)
	}
	w, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	var th mail.InlineHeader
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	tw, err := w.CreateSingleInline(th)
	if err != nil {
		return nil, err
	}
	if _, err := closed(nil, tw, text); err != nil {
		return nil, err
	}
	doc := m.Message.Document
	var ah mail.AttachmentHeader
	ah.SetContentType(doc.ContentType, nil)
	ah.SetFilename(doc.Filename)
	aw, err := w.CreateAttachment(ah)
	if err != nil {
		return nil, err
	}
	if _, err := closed(nil, aw, string(doc.Content)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// closed writes s to w and closes it, returning buf's bytes when buf is
// set: the part's encoder flushes only on Close.
func closed(buf *bytes.Buffer, w io.WriteCloser, s string) ([]byte, error) {
	if _, err := io.WriteString(w, s); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if buf == nil {
		return nil, nil
	}
	return buf.Bytes(), nil
}
