package receiver

import (
	"context"

	"github.com/incidentops/incident-operator/internal/notify"
)

// email mails the rendered text through the operator's SMTP server.
type email struct {
	to, cc   []string
	renderer *notify.Renderer
	t        *Transport
}

func (e *email) Send(ctx context.Context, msg notify.Message) error {
	if e.t.Mailer == nil {
		return ErrNoMailServer
	}
	subject, text, err := e.renderer.Render(msg)
	if err != nil {
		return err
	}
	return e.t.Mailer.Send(ctx, notify.Mail{To: e.to, Cc: e.cc, Subject: subject, Text: text, Message: msg, Date: e.t.Now()})
}
