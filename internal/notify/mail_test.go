package notify_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/sink"
)

// mailServer runs the sink's mailbox on loopback with the given security and
// returns its address and a client TLS config that trusts it.
func mailServer(t *testing.T, box *sink.Mailbox, security notify.MailSecurity) (string, *tls.Config) {
	t.Helper()
	serverTLS, pool, err := sink.LoopbackTLS()
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	if security == notify.MailTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := box.NewServer()
	if security == notify.MailStartTLS {
		srv.TLSConfig = serverTLS
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func mailMessage() notify.Mail {
	return notify.Mail{
		To:      []string{"Internal Audit <audit@council.example>"},
		Cc:      []string{"dpo@council.example"},
		Subject: "[High] Laptop lost — <script>alert(1)</script>",
		Text:    "Incident ops/lost-laptop: Loss, severity High.\nReported by Ann Smith (Finance).\n\nLeft on a train.",
		Date:    time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		Message: notify.Message{Key: "0123456789abcdef0123456789abcdef", IncidentMessage: &notify.IncidentMessage{
			Policy:   "personal-data",
			Receiver: "internal-audit",
			Incident: notify.IncidentSummary{
				Namespace: "ops", Name: "lost-laptop", UID: "c0ffee",
				Title: "Laptop lost", Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh,
				Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Ann Smith"}},
			},
		}},
	}
}

func TestMailOverSTARTTLSWithLogin(t *testing.T) {
	box := &sink.Mailbox{Username: "operator", Password: "s3cret-smtp-password"}
	addr, clientTLS := mailServer(t, box, notify.MailStartTLS)
	m := &notify.Mailer{
		Server: notify.MailServer{Addr: addr, From: "Incident operator <incidents@council.example>", Security: notify.MailStartTLS, TLSConfig: clientTLS},
		Credentials: func(context.Context) (notify.Credentials, error) {
			return notify.Credentials{Username: "operator", Password: "s3cret-smtp-password"}, nil
		},
	}
	if err := m.Send(context.Background(), mailMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := box.Mails()
	if len(mails) != 1 {
		t.Fatalf("mailbox has %d mails, want 1", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.User != "operator" {
		t.Errorf("TLS=%v user=%q, want an encrypted, logged-in session", got.TLS, got.User)
	}
	if got.From != "incidents@council.example" || strings.Join(got.To, ",") != "audit@council.example,dpo@council.example" {
		t.Errorf("envelope from %q to %v", got.From, got.To)
	}
	for header, want := range map[string]string{
		"Message-Id":                    "<0123456789abcdef0123456789abcdef@incidentops.io>",
		"In-Reply-To":                   "<incident-c0ffee@incidentops.io>",
		"References":                    "<incident-c0ffee@incidentops.io>",
		"Subject":                       "[High] Laptop lost — <script>alert(1)</script>",
		"Auto-Submitted":                "auto-generated",
		"X-Incidentops-Idempotency-Key": "0123456789abcdef0123456789abcdef",
	} {
		if v := got.Header.Get(header); v != want {
			t.Errorf("%s = %q, want %q", header, v, want)
		}
	}
	// Addresses are compared as parsed: the writer may quote a name or
	// bracket a bare address, which means the same.
	for header, want := range map[string][]*mail.Address{
		"To": {{Name: "Internal Audit", Address: "audit@council.example"}},
		"Cc": {{Address: "dpo@council.example"}},
	} {
		if addrs, err := got.Header.AddressList(header); err != nil || !reflect.DeepEqual(addrs, want) {
			t.Errorf("%s = %q (%v), want %v", header, got.Header.Get(header), err, want)
		}
	}
	if got.Text != mailMessage().Text {
		t.Errorf("text part = %q", got.Text)
	}
	if strings.Contains(got.HTML, "<script>") || !strings.Contains(got.HTML, "&lt;script&gt;") {
		t.Errorf("HTML part does not escape the subject: %s", got.HTML)
	}
	if !strings.Contains(got.HTML, "severity High.<br>Reported by Ann Smith (Finance).</p>") || !strings.Contains(got.HTML, "<td>Ann Smith</td>") {
		t.Errorf("HTML part lacks the body or facts: %s", got.HTML)
	}
}

func TestMailOverImplicitTLS(t *testing.T) {
	box := &sink.Mailbox{}
	addr, clientTLS := mailServer(t, box, notify.MailTLS)
	m := &notify.Mailer{Server: notify.MailServer{Addr: addr, From: "incidents@council.example", Security: notify.MailTLS, TLSConfig: clientTLS}}
	if err := m.Send(context.Background(), mailMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if mails := box.Mails(); len(mails) != 1 || !mails[0].TLS {
		t.Fatalf("want one mail over TLS, got %+v", mails)
	}
}

func TestMailRefusesUntrustedServer(t *testing.T) {
	box := &sink.Mailbox{}
	addr, _ := mailServer(t, box, notify.MailStartTLS)
	m := &notify.Mailer{Server: notify.MailServer{Addr: addr, From: "incidents@council.example", Security: notify.MailStartTLS}}
	err := m.Send(context.Background(), mailMessage())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Send to a server with an unknown certificate: %v, want a certificate error", err)
	}
	if len(box.Mails()) != 0 {
		t.Fatal("mail was handed over despite the failed TLS check")
	}
}

func TestMailWithoutTLSRefusesCredentials(t *testing.T) {
	box := &sink.Mailbox{}
	addr, _ := mailServer(t, box, notify.MailPlain)
	m := &notify.Mailer{
		Server: notify.MailServer{Addr: addr, From: "incidents@council.example", Security: notify.MailPlain},
		Credentials: func(context.Context) (notify.Credentials, error) {
			return notify.Credentials{Username: "operator", Password: "s3cret-smtp-password"}, nil
		},
	}
	err := m.Send(context.Background(), mailMessage())
	if err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Fatalf("Send: %v, want a refusal to log in without TLS", err)
	}
	m.Credentials = nil
	if err := m.Send(context.Background(), mailMessage()); err != nil {
		t.Fatalf("Send without credentials to a plain relay: %v", err)
	}
	if mails := box.Mails(); len(mails) != 1 || mails[0].TLS {
		t.Fatalf("want one plain-text mail, got %+v", mails)
	}
}

func TestMailErrorsNameTheProblemNotTheSecret(t *testing.T) {
	box := &sink.Mailbox{Username: "operator", Password: "right", Fail: func(int) error {
		return &smtp.SMTPError{Code: 452, Message: "mailbox full"}
	}}
	addr, clientTLS := mailServer(t, box, notify.MailStartTLS)
	password := "wrong-password-value"
	m := &notify.Mailer{
		Server: notify.MailServer{Addr: addr, From: "incidents@council.example", Security: notify.MailStartTLS, TLSConfig: clientTLS},
		Credentials: func(context.Context) (notify.Credentials, error) {
			return notify.Credentials{Username: "operator", Password: password}, nil
		},
	}
	err := m.Send(context.Background(), mailMessage())
	if err == nil || !strings.Contains(err.Error(), "SMTP login as operator") || strings.Contains(err.Error(), password) {
		t.Fatalf("wrong password: %v", err)
	}
	password = "right"
	err = m.Send(context.Background(), mailMessage())
	var smtpErr *smtp.SMTPError
	if !errors.As(err, &smtpErr) || smtpErr.Code != 452 {
		t.Fatalf("rejected message: %v, want the server's 452", err)
	}
}

func TestMailTimesOutOnASilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept and say nothing
		}
	}()
	m := &notify.Mailer{Server: notify.MailServer{Addr: l.Addr().String(), From: "incidents@council.example", Security: notify.MailStartTLS, Timeout: 300 * time.Millisecond}}
	start := time.Now()
	err = m.Send(context.Background(), mailMessage())
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Send to a silent server: %v, want a timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Send took %s despite a 300ms timeout", elapsed)
	}
}

func TestComposeMailRejectsBadAddresses(t *testing.T) {
	msg := mailMessage()
	msg.To = []string{"not an address"}
	if _, err := notify.ComposeMail("incidents@council.example", msg); err == nil || !strings.Contains(err.Error(), `"not an address"`) {
		t.Fatalf("ComposeMail: %v, want the bad address named", err)
	}
}
