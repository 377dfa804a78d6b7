package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const (
	// IdempotencyKeyHeader carries the delivery key on every webhook request.
	IdempotencyKeyHeader = "Idempotency-Key"
	// SignatureHeader carries the HMAC-SHA256 signature of a webhook request
	// as "t=<unix seconds>,v1=<hex>", over "<unix seconds>.<body>".
	SignatureHeader = "X-Incidentops-Signature"
)

// WebhookTarget is where and how a webhook delivery is made.
type WebhookTarget struct {
	URL     string
	Timeout time.Duration
	// SigningKey, when set, signs the request so the receiver can verify
	// that the operator sent it.
	SigningKey []byte
}

// SendWebhook posts the message as JSON with its idempotency key and, when
// the target has a signing key, a signature; now is the signature's time.
func (h *HTTP) SendWebhook(ctx context.Context, target WebhookTarget, msg Message, now time.Time) error {
	return h.sendJSON(ctx, target, msg.Key, msg, now)
}

// sendJSON posts v as JSON under key, signed when the target has a key.
func (h *HTTP) sendJSON(ctx context.Context, target WebhookTarget, key string, v any, now time.Time) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding message: %w", err)
	}
	header := http.Header{}
	header.Set(IdempotencyKeyHeader, key)
	if len(target.SigningKey) > 0 {
		header.Set(SignatureHeader, Sign(target.SigningKey, now, body))
	}
	return h.post(ctx, target.URL, target.Timeout, body, header)
}

// SendLines posts newline-delimited JSON, such as a stream of audit
// entries, with its idempotency key and, when the target has a signing
// key, a signature, as SendWebhook does.
func (h *HTTP) SendLines(ctx context.Context, target WebhookTarget, key string, body []byte, now time.Time) error {
	header := http.Header{}
	header.Set(IdempotencyKeyHeader, key)
	header.Set("Content-Type", "application/x-ndjson")
	if len(target.SigningKey) > 0 {
		header.Set(SignatureHeader, Sign(target.SigningKey, now, body))
	}
	return h.post(ctx, target.URL, target.Timeout, body, header)
}

// Sign computes the signature header value for a body sent at a time.
func Sign(key []byte, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
