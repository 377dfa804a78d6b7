package notify

// A report's messages: the document a run made, posted as JSON or mailed
// as an attachment, and the notice that a run's review is overdue.

import (
	"bytes"
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

// ReportMessage is what a message about one run of a report carries: its
// document, or, with the envelope's Notice set, something about the run.
type ReportMessage struct {
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
	// ReviewDueAt is when the run was to be signed off, for a
	// NoticeReviewOverdue.
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

// reportTimeLayout is how the mail writes times: in the report's zone,
// named, since the reader may be elsewhere.
const reportTimeLayout = "2006-01-02 15:04 MST"

// ReportText is the subject and the plain text of a report's mail.
func ReportText(msg Message) (subject, text string) {
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
func signOffHint(msg Message) string {
	return fmt.Sprintf("    kubectl incident review sign-off %s -n %s --run %s --note \"...\"", msg.Report, msg.Namespace, msg.Run)
}

// reportThreadMsgID is what every mail about one report refers to, so that
// mail clients keep a report's runs in one thread.
func reportThreadMsgID(reportUID string) string { return "report-" + reportUID + "@" + messageIDDomain }

// composeReportMail renders the RFC 5322 message about a report's run: the
// text, and the document as a base64 attachment under its filename and
// content type. go-message writes it, as it does an incident's.
func composeReportMail(from string, m Mail) ([]byte, error) {
	text := m.Text
	h, err := mailHeader(from, m.To, m.Cc, m.Subject, m.Date, m.Message.Key, reportThreadMsgID(m.Message.ReportUID))
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
