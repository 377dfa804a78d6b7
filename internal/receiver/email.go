package receiver

import (
	"context"

	"github.com/incidentops/incident-operator/internal/notify"
)

// email mails the rendered text through the operator's SMTP server: an
// incident's by the policy's template, a report's run with its fixed text
// and the document attached.
type email struct {
	to, cc   []string
	renderer *notify.Renderer
	t        *Transport
}

func (e *email) Send(ctx context.Context, msg notify.Message) error {
	if e.t.Mailer == nil {
		return ErrNoMailServer
	}
	var subject, text string
	if msg.ReportMessage != nil {
		subject, text = notify.ReportText(msg)
	} else {
		var err error
		if subject, text, err = e.renderer.Render(msg); err != nil {
			return err
		}
	}
	return e.t.Mailer.Send(ctx, notify.Mail{To: e.to, Cc: e.cc, Subject: subject, Text: text, Message: msg, Date: e.t.Now()})
}
