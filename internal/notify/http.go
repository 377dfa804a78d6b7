package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one delivery attempt when the receiver sets none.
const DefaultTimeout = 10 * time.Second

// HTTP posts JSON to the receivers that take it: webhooks, Slack, Microsoft
// Teams and PagerDuty.
type HTTP struct {
	Client    *http.Client
	UserAgent string
}

// post sends body to target. Any answer other than 2xx is an error. Errors
// never contain the URL, which often carries a token.
func (h *HTTP) post(ctx context.Context, target string, timeout time.Duration, body []byte, header http.Header) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("receiver URL is not an absolute http(s) URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("receiver URL is not valid")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if h.UserAgent != "" {
		req.Header.Set("User-Agent", h.UserAgent)
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return redactURL(err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused, never the whole body.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// redactURL strips the request URL from a transport error.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("timed out waiting for the receiver")
		}
		return fmt.Errorf("%s request failed: %w", ue.Op, ue.Err)
	}
	return err
}
