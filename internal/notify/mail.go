package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// MailSecurity is how the connection to the SMTP server is protected.
type MailSecurity string

const (
	// MailStartTLS connects in plain text and upgrades with STARTTLS; the
	// server must offer it. This is the usual submission port 587.
	MailStartTLS MailSecurity = "starttls"
	// MailTLS connects over TLS from the first byte, as on port 465.
	MailTLS MailSecurity = "tls"
	// MailPlain never encrypts. It is for relays on loopback or inside the
	// cluster, and refuses to send credentials.
	MailPlain MailSecurity = "none"
)

// ParseMailSecurity reads a --smtp-security value.
func ParseMailSecurity(s string) (MailSecurity, error) {
	switch v := MailSecurity(strings.ToLower(s)); v {
	case MailStartTLS, MailTLS, MailPlain:
		return v, nil
	}
	return "", fmt.Errorf("SMTP security %q is not one of starttls, tls, none", s)
}

// MailServer is the operator-wide SMTP submission server.
type MailServer struct {
	// Addr is host:port.
	Addr     string
	From     string
	Security MailSecurity
	// TLSConfig, when set, verifies the server; the server name defaults to
	// the host of Addr.
	TLSConfig *tls.Config
	// Timeout bounds one delivery: connect, hand over, quit.
	Timeout time.Duration
}

// Credentials log in to the SMTP server. They are read at each send, so a
// rotated Secret takes effect without a restart.
type Credentials struct {
	Username string
	Password string
}

// Mailer sends notifications by e-mail.
type Mailer struct {
	Server MailServer
	// Credentials, when set, returns the login for each send; empty
	// credentials send without AUTH.
	Credentials func(ctx context.Context) (Credentials, error)
}

// Mail is one e-mail: about an incident, or a report's run with its
// document attached.
type Mail struct {
	To []string
	Cc []string
	// Subject and Text are the rendered title and body: a policy's
	// template for an incident, ReportText for a report's run.
	Subject string
	Text    string
	Message Message
	Date    time.Time
}

// messageIDDomain is the right-hand side of the Message-IDs the operator makes.
const messageIDDomain = "incidentops.io"

// MessageID is the Message-ID of a delivery: derived from its idempotency
// key, so a delivery sent twice is recognisably the same mail.
func MessageID(key string) string { return "<" + deliveryMsgID(key) + ">" }

// ThreadID is the Message-ID every mail about one incident refers to, so that
// mail clients keep them in one thread.
func ThreadID(incidentUID string) string { return "<" + threadMsgID(incidentUID) + ">" }

// deliveryMsgID and threadMsgID are the identifiers without the angle
// brackets, which is how the mail header takes them.
func deliveryMsgID(key string) string { return key + "@" + messageIDDomain }

func threadMsgID(incidentUID string) string {
	return "incident-" + incidentUID + "@" + messageIDDomain
}

// ComposeMail renders the RFC 5322 message: a multipart/alternative with a
// plain-text and an HTML part. go-message writes it: names and subjects
// outside ASCII become RFC 2047 encoded words and long fields are folded, so
// fifty recipients or a long subject never make a line longer than a mail
// server must accept.
func ComposeMail(from string, m Mail) ([]byte, error) {
	if m.Message.ReportMessage != nil {
		return composeReportMail(from, m)
	}
	h, err := mailHeader(from, m.To, m.Cc, m.Subject, m.Date, m.Message.Key, threadMsgID(m.Message.Incident.UID))
	if err != nil {
		return nil, err
	}
	html, err := mailHTML(m)
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	w, err := mail.CreateInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	for _, part := range []struct{ mediaType, body string }{
		{"text/plain", m.Text},
		{"text/html", html},
	} {
		var ph mail.InlineHeader
		ph.SetContentType(part.mediaType, map[string]string{"charset": "utf-8"})
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, err
		}
		// The part is quoted-printable, which also turns each \n into CRLF.
		if _, err := io.WriteString(pw, part.body); err != nil {
			return nil, err
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mailHeader is the header every mail of the operator has: the sender and
// recipients, the subject and date, a Message-ID derived from the
// delivery's key, and the thread the mail belongs to.
func mailHeader(from string, toList, ccList []string, subject string, date time.Time, key, thread string) (mail.Header, error) {
	var h mail.Header
	sender, err := mail.ParseAddress(from)
	if err != nil {
		return h, fmt.Errorf("sender address %q: %w", from, err)
	}
	to, err := recipientAddresses(toList)
	if err != nil {
		return h, err
	}
	cc, err := recipientAddresses(ccList)
	if err != nil {
		return h, err
	}
	h.SetAddressList("From", []*mail.Address{sender})
	h.SetAddressList("To", to)
	h.SetAddressList("Cc", cc)
	h.SetSubject(subject)
	h.SetDate(date.UTC())
	h.SetMessageID(deliveryMsgID(key))
	h.SetMsgIDList("In-Reply-To", []string{thread})
	h.SetMsgIDList("References", []string{thread})
	h.Set("Auto-Submitted", "auto-generated")
	if key != "" {
		h.Set("X-Incidentops-Idempotency-Key", key)
	}
	return h, nil
}

// recipientAddresses parses To or Cc, naming the address that is not one.
func recipientAddresses(list []string) ([]*mail.Address, error) {
	addrs := make([]*mail.Address, 0, len(list))
	for _, s := range list {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("recipient address %q: %w", s, err)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

var mailPage = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{.Subject}}</h2>
<table>{{range .Facts}}<tr><th align="left">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{range .Paragraphs}}<p>{{range $i, $line := .}}{{if $i}}<br>{{end}}{{$line}}{{end}}</p>
{{end}}</body></html>`))

// mailHTML lays out the same text as HTML; the template escapes it.
func mailHTML(m Mail) (string, error) {
	var paragraphs [][]string
	for _, p := range strings.Split(m.Text, "\n\n") {
		paragraphs = append(paragraphs, strings.Split(p, "\n"))
	}
	var sb strings.Builder
	err := mailPage.Execute(&sb, map[string]any{
		"Subject": m.Subject, "Facts": facts(m.Message), "Paragraphs": paragraphs,
	})
	return sb.String(), err
}

// Send hands the mail to the SMTP server. The envelope's recipients are To
// and Cc. Errors never contain credentials.
func (m *Mailer) Send(ctx context.Context, mail Mail) error {
	body, err := ComposeMail(m.Server.From, mail)
	if err != nil {
		return err
	}
	return m.submit(ctx, append(append([]string(nil), mail.To...), mail.Cc...), body)
}

// submit hands a composed message to the SMTP server for recipients.
func (m *Mailer) submit(ctx context.Context, recipients []string, body []byte) error {
	timeout := m.Server.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var creds Credentials
	if m.Credentials != nil {
		var err error
		if creds, err = m.Credentials(ctx); err != nil {
			return err
		}
	}
	if creds.Username != "" && m.Server.Security == MailPlain {
		return errors.New("refusing to send SMTP credentials over a connection without TLS: set --smtp-security to starttls or tls")
	}

	c, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if creds.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", creds.Username, creds.Password)); err != nil {
			return fmt.Errorf("SMTP login as %s: %w", creds.Username, err)
		}
	}
	from, _ := mailAddress(m.Server.From)
	rcpts := make([]string, 0, len(recipients))
	for _, a := range recipients {
		addr, _ := mailAddress(a)
		rcpts = append(rcpts, addr)
	}
	if err := c.SendMail(from, rcpts, bytes.NewReader(body)); err != nil {
		return fmt.Errorf("SMTP: %w", timeoutError(ctx, err))
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("SMTP quit: %w", timeoutError(ctx, err))
	}
	return nil
}

// dial connects and secures the connection as configured. The connection is
// closed when the context ends, which Send's deferred cancel ensures.
func (m *Mailer) dial(ctx context.Context) (*smtp.Client, error) {
	host, _, err := net.SplitHostPort(m.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP address %q: %w", m.Server.Addr, err)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to SMTP server: %w", timeoutError(ctx, err))
	}
	// The client sets its own per-command deadlines; closing the connection
	// when the context ends is what bounds the whole exchange.
	context.AfterFunc(ctx, func() { _ = conn.Close() })

	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if m.Server.TLSConfig != nil {
		tlsConfig = m.Server.TLSConfig.Clone()
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = host
		}
	}
	var c *smtp.Client
	switch m.Server.Security {
	case MailTLS:
		c = smtp.NewClient(tls.Client(conn, tlsConfig))
	case MailPlain:
		c = smtp.NewClient(conn)
	default:
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("SMTP STARTTLS: %w", timeoutError(ctx, err))
		}
	}
	return c, nil
}

// mailAddress is the bare address of "Name <addr>".
func mailAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// timeoutError says plainly when the server was too slow.
func timeoutError(ctx context.Context, err error) error {
	var ne net.Error
	if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		return errors.New("timed out waiting for the SMTP server")
	}
	return err
}
