package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/sink"
)

// mapSecrets serves Secret keys from a map of "namespace/name/key".
type mapSecrets map[string]string

func (m mapSecrets) Key(_ context.Context, namespace string, ref securityv1alpha1.SecretKeyReference) (string, error) {
	if v, ok := m[namespace+"/"+ref.Name+"/"+ref.Key]; ok {
		return v, nil
	}
	return "", &UnavailableError{Namespace: namespace, Name: ref.Name, Key: ref.Key}
}

// request is what a loopback receiver got.
type request struct {
	path, key string
	body      map[string]any
}

type recorder struct {
	mu       sync.Mutex
	requests []request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	r.mu.Lock()
	r.requests = append(r.requests, request{path: req.URL.Path, key: req.Header.Get(notify.IdempotencyKeyHeader), body: body})
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func ref(name, key string) securityv1alpha1.SecretKeyReference {
	return securityv1alpha1.SecretKeyReference{Name: name, Key: key}
}

// loopback serves a webhook recorder and a mailbox on loopback, and is a
// transport that sends to them.
func loopback(t *testing.T) (*recorder, *httptest.Server, *sink.Mailbox, *Transport) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	mailbox := &sink.Mailbox{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpServer := mailbox.NewServer()
	go func() { _ = smtpServer.Serve(l) }()
	t.Cleanup(func() { _ = smtpServer.Close() })
	return rec, srv, mailbox, &Transport{
		// The test's receiver listens on loopback.
		HTTP:   &notify.HTTP{Client: notify.NewHTTPClient(notify.HTTPClientOptions{Egress: notify.Egress{AllowLoopback: true}})},
		Mailer: &notify.Mailer{Server: notify.MailServer{Addr: l.Addr().String(), From: "incidents@example.org", Security: notify.MailPlain, Timeout: 5 * time.Second}},
		Now:    time.Now,
	}
}

func TestEveryChannelSendsThroughOneInterface(t *testing.T) {
	rec, srv, mailbox, transport := loopback(t)
	renderer, err := notify.NewRenderer(notify.Template{})
	if err != nil {
		t.Fatal(err)
	}
	transport.Secrets, transport.DestinationAllowed = mapSecrets{
		"desk/hooks/webhook": srv.URL + "/webhook", "desk/hooks/slack": srv.URL + "/slack",
		"desk/hooks/teams": srv.URL + "/teams", "desk/hooks/pd": "routing-key",
	}, func(u string) bool { return strings.HasPrefix(u, srv.URL) }
	msg := notify.Message{Key: "key-1", IncidentMessage: &notify.IncidentMessage{Policy: "desk", Receiver: "r", Incident: notify.IncidentSummary{Name: "lost-laptop", Title: "Laptop lost"}}}
	tests := map[string]struct {
		spec     securityv1alpha1.Receiver
		wantPath string
	}{
		"webhook":   {spec: securityv1alpha1.Receiver{Name: "r", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("hooks", "webhook")}}, wantPath: "/webhook"},
		"slack":     {spec: securityv1alpha1.Receiver{Name: "r", Slack: &securityv1alpha1.ChatReceiver{URLSecretRef: ref("hooks", "slack")}}, wantPath: "/slack"},
		"teams":     {spec: securityv1alpha1.Receiver{Name: "r", Teams: &securityv1alpha1.ChatReceiver{URLSecretRef: ref("hooks", "teams")}}, wantPath: "/teams"},
		"pagerduty": {spec: securityv1alpha1.Receiver{Name: "r", PagerDuty: &securityv1alpha1.PagerDutyReceiver{RoutingKeySecretRef: ref("hooks", "pd"), URL: srv.URL + "/pd"}}, wantPath: "/pd"},
		"email":     {spec: securityv1alpha1.Receiver{Name: "r", Email: &securityv1alpha1.EmailReceiver{To: []string{"desk@example.org"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before, mailsBefore := len(rec.requests), len(mailbox.Mails())
			r, err := New("desk", &tc.spec, renderer, transport)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Send(t.Context(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if tc.wantPath == "" {
				if mails := mailbox.Mails(); len(mails) != mailsBefore+1 || mails[len(mails)-1].To[0] != "desk@example.org" {
					t.Errorf("mails = %+v, want one to desk@example.org", mails)
				}
				return
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.requests) != before+1 || rec.requests[before].path != tc.wantPath {
				t.Fatalf("requests = %+v, want one to %s", rec.requests[before:], tc.wantPath)
			}
		})
	}
}

func TestSendRefusesWhatItMayNotDo(t *testing.T) {
	renderer, _ := notify.NewRenderer(notify.Template{})
	transport := &Transport{
		HTTP:               &notify.HTTP{Client: notify.NewHTTPClient(notify.HTTPClientOptions{})},
		Secrets:            mapSecrets{"desk/pd/key": "routing-key"},
		DestinationAllowed: func(string) bool { return false },
		Now:                time.Now,
	}
	tests := map[string]struct {
		spec securityv1alpha1.Receiver
		want func(error) bool
	}{
		"a Secret it may not read": {
			spec: securityv1alpha1.Receiver{Name: "r", Webhook: &securityv1alpha1.WebhookReceiver{URLSecretRef: ref("db-credentials", "password")}},
			want: IsUnavailable,
		},
		"a PagerDuty URL nobody allowed": {
			spec: securityv1alpha1.Receiver{Name: "r", PagerDuty: &securityv1alpha1.PagerDutyReceiver{RoutingKeySecretRef: ref("pd", "key"), URL: "http://169.254.169.254/"}},
			want: func(err error) bool { return errors.Is(err, ErrDestinationNotAllowed) },
		},
		"e-mail without an SMTP server": {
			spec: securityv1alpha1.Receiver{Name: "r", Email: &securityv1alpha1.EmailReceiver{To: []string{"a@example.org"}}},
			want: func(err error) bool { return errors.Is(err, ErrNoMailServer) },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := New("desk", &tc.spec, renderer, transport)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Send(t.Context(), notify.Message{Key: "k"}); !tc.want(err) {
				t.Errorf("Send = %v", err)
			}
		})
	}
	if _, err := New("desk", &securityv1alpha1.Receiver{Name: "none"}, renderer, transport); err == nil {
		t.Error("a receiver without a channel was built")
	}
}

func TestSecretReaderUsesOnlyLabelledSecretsAndSaysTheSameOtherwise(t *testing.T) {
	labelled := map[string]string{securityv1alpha1.NotificationSecretLabel: "true"}
	c := fake.NewClientBuilder().WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "desk", Name: "hooks", Labels: labelled}, Data: map[string][]byte{"url": []byte(" https://desk.example.org/hook\n")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "desk", Name: "db-credentials"}, Data: map[string][]byte{"password": []byte("s3cret")}},
	).Build()
	reader := SecretReader{Reader: c}
	value, err := reader.Key(t.Context(), "desk", ref("hooks", "url"))
	if err != nil || value != "https://desk.example.org/hook" {
		t.Fatalf("labelled Secret: %q, %v", value, err)
	}
	messages := map[string]string{}
	for name, r := range map[string]securityv1alpha1.SecretKeyReference{
		"unlabelled": ref("db-credentials", "password"),
		"missing":    ref("db-credentials-2", "password"),
		"no key":     ref("hooks", "password"),
		"bad name":   ref("a/b", "password"),
	} {
		value, err := reader.Key(t.Context(), "desk", r)
		if value != "" || !IsUnavailable(err) {
			t.Fatalf("%s: %q, %v; want unavailable", name, value, err)
		}
		// The same words whatever the reason, once the name is set aside.
		messages[name] = strings.ReplaceAll(err.Error(), `/`+r.Name+` `, "/X ")
	}
	if m := messages["unlabelled"]; messages["missing"] != m || messages["no key"] != m || messages["bad name"] != m {
		t.Errorf("the reasons read differently, which tells whether a Secret exists: %v", messages)
	}
}
