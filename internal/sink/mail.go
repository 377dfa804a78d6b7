package sink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the mailbox accepted.
type Mail struct {
	At     time.Time
	From   string
	To     []string
	Header mail.Header
	// Text and HTML are the decoded parts of a multipart/alternative body.
	Text string
	HTML string
	// TLS is true when the message arrived over an encrypted connection.
	TLS bool
	// User is who logged in, if anyone did.
	User string
	// Raw is the message as it arrived, for tests that read its other
	// parts, such as an attachment.
	Raw []byte
}

// Mailbox is an SMTP server backend that records the mail it accepts.
type Mailbox struct {
	// Out, when set, gets one line per mail.
	Out io.Writer
	// Username and Password, when set, are the only login accepted, and a
	// login is required.
	Username, Password string
	// Fail, when set, is asked about the nth message (from 1) after it is
	// recorded; an error is returned to the client instead of accepting.
	Fail func(n int) error

	mu    sync.Mutex
	mails []Mail
}

// NewServer returns an SMTP server for the mailbox; set TLSConfig on it to
// offer STARTTLS or to serve implicit TLS.
func (b *Mailbox) NewServer() *smtp.Server {
	s := smtp.NewServer(b)
	s.Domain = "localhost"
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.MaxMessageBytes = 1 << 20
	s.MaxRecipients = 100
	s.AllowInsecureAuth = false
	return s
}

// Serve runs an SMTP server for the mailbox on l until l is closed.
func (b *Mailbox) Serve(l net.Listener) error {
	return b.NewServer().Serve(l)
}

// Mails returns a copy of what the mailbox has accepted so far.
func (b *Mailbox) Mails() []Mail {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Mail(nil), b.mails...)
}

// NewSession implements smtp.Backend.
func (b *Mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{box: b, conn: c, tls: isTLS}, nil
}

type session struct {
	box  *Mailbox
	conn *smtp.Conn
	tls  bool
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string {
	if s.box.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.box.Username || password != s.box.Password {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.box.Username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "message is not valid: " + err.Error()}
	}
	_, s.tls = s.conn.TLSConnectionState()
	m.At, m.From, m.To, m.TLS, m.User, m.Raw = time.Now(), s.from, append([]string(nil), s.to...), s.tls, s.user, raw

	b := s.box
	b.mu.Lock()
	b.mails = append(b.mails, m)
	n, fail := len(b.mails), b.Fail
	if b.Out != nil {
		fmt.Fprintf(b.Out, "%s  %-22s %q  message-id=%s\n",
			m.At.Format("15:04:05.000"), "✉ "+strings.Join(m.To, ","), m.Header.Get("Subject"), m.Header.Get("Message-Id"))
	}
	b.mu.Unlock()
	if fail != nil {
		if err := fail(n); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// parseMail reads the headers and the text and HTML parts of a message.
func parseMail(raw []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	out := Mail{Header: msg.Header}
	if subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err == nil {
		out.Header["Subject"] = []string{subject}
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Mail{}, fmt.Errorf("Content-Type: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, err := io.ReadAll(msg.Body)
		out.Text = string(body)
		return out, err
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextRawPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return Mail{}, err
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return Mail{}, err
		}
		text := strings.ReplaceAll(string(data), "\r\n", "\n")
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.Text = text
		case "text/html":
			out.HTML = text
		}
	}
}
