package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds one delivery attempt when the receiver sets none.
const DefaultTimeout = 10 * time.Second

// MaxRetryAfter bounds the wait a receiver may ask for with Retry-After.
const MaxRetryAfter = time.Hour

// HTTP posts JSON to the receivers that take it: webhooks, Slack, Microsoft
// Teams and PagerDuty.
type HTTP struct {
	// Client sends the requests. Without one, or with one that has no
	// Transport, requests go through the transport NewHTTPClient builds, which
	// refuses link-local and cloud metadata addresses. Whatever the client, a
	// redirect is never followed.
	Client    *http.Client
	UserAgent string
}

// DeliveryError is a failed delivery attempt, told in words that name no
// URL, host, address or port: the URL often carries a token, and an error
// that said which addresses answer would let a policy author map the
// operator's network.
type DeliveryError struct {
	// Reason is what went wrong.
	Reason string
	// StatusCode is the receiver's answer, or 0 when there was none.
	StatusCode int
	// Permanent is true when trying again cannot help: the receiver refused
	// the request (4xx), or the operator refuses to send it.
	Permanent bool
	// RetryAfter is how long a 429 or 503 answer asked to wait, at most
	// MaxRetryAfter; 0 when it did not say.
	RetryAfter time.Duration
	// cause is a sentinel for errors.Is: ErrEgressRefused, or the context's
	// error. Never the transport's error, which holds the URL.
	cause error
}

func (e *DeliveryError) Error() string { return e.Reason }
func (e *DeliveryError) Unwrap() error { return e.cause }

// IsPermanent is true for a failure that trying again cannot mend: an answer
// of 4xx other than 408, 425 and 429, a redirect, a destination the egress
// rules refuse, an invalid URL, or a template that does not render.
// Everything else (timeouts, 5xx, connection and TLS failures) may pass.
func IsPermanent(err error) bool {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Permanent
	}
	var te *TemplateError
	return errors.As(err, &te)
}

// RetryAfter is the wait a receiver asked for with a 429 or 503 answer.
func RetryAfter(err error) (time.Duration, bool) {
	var de *DeliveryError
	if errors.As(err, &de) && de.RetryAfter > 0 {
		return de.RetryAfter, true
	}
	return 0, false
}

// post sends body to target. Any answer other than 2xx is an error.
func (h *HTTP) post(ctx context.Context, target string, timeout time.Duration, body []byte, header http.Header) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &DeliveryError{Reason: "receiver URL is not an absolute http(s) URL", Permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &DeliveryError{Reason: "receiver URL is not valid", Permanent: true}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.UserAgent != "" {
		req.Header.Set("User-Agent", h.UserAgent)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused, never the whole body.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return answerError(resp)
}

// client is a copy of h.Client that never follows a redirect: a receiver
// could otherwise send the request, signature and all, anywhere.
func (h *HTTP) client() *http.Client {
	var c http.Client
	if h.Client != nil {
		c = *h.Client
	}
	if c.Transport == nil {
		c.Transport = defaultTransport()
	}
	c.CheckRedirect = refuseRedirect
	return &c
}

// refuseRedirect makes a client hand back a redirect as the answer.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

var defaultTransport = sync.OnceValue(func() http.RoundTripper { return newTransport(HTTPClientOptions{}) })

// answerError is nil for a 2xx answer and says what any other meant.
func answerError(resp *http.Response) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	// The receiver's own reason phrase is not repeated: it is theirs to
	// write, and ends up in the operator's status and events.
	status := strconv.Itoa(code)
	if text := http.StatusText(code); text != "" {
		status += " " + text
	}
	e := &DeliveryError{Reason: "receiver answered " + status, StatusCode: code}
	switch {
	case code >= 300 && code <= 399:
		e.Reason += "; redirects are not followed"
		e.Permanent = true
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
	case code >= 400 && code <= 499:
		e.Permanent = true
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header)
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or a date, which is taken
// against the answer's own Date so that neither clock's error counts.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	} else {
		at, err1 := http.ParseTime(v)
		sent, err2 := http.ParseTime(h.Get("Date"))
		if err1 != nil || err2 != nil {
			return 0
		}
		d = at.Sub(sent)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// transportError turns a failed request into one of a few fixed messages.
func transportError(ctx context.Context, err error) error {
	var (
		dnsErr      *net.DNSError
		opErr       *net.OpError
		netErr      net.Error
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		verifyErr   *tls.CertificateVerificationError
		authorityEr x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, ErrEgressRefused):
		return &DeliveryError{Reason: ErrEgressRefused.Error(), Permanent: true, cause: ErrEgressRefused}
	case errors.Is(ctx.Err(), context.Canceled):
		return &DeliveryError{Reason: "the delivery was cancelled", cause: context.Canceled}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &DeliveryError{Reason: "timed out waiting for the receiver", cause: context.DeadlineExceeded}
	case errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &verifyErr),
		errors.As(err, &authorityEr), errors.As(err, &hostnameErr), errors.As(err, &invalidErr),
		// net/http's text for a record error that starts "HTTP/"; it has no type.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &DeliveryError{Reason: "TLS handshake with the receiver failed"}
	case errors.As(err, &dnsErr):
		return &DeliveryError{Reason: "could not resolve the receiver's host name"}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &DeliveryError{Reason: "could not connect to the receiver"}
	}
	return &DeliveryError{Reason: "the connection to the receiver failed before it answered"}
}
