package notify

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// send posts a webhook to url with a 2-second timeout unless ctx ends first.
func send(ctx context.Context, h *HTTP, url string) error {
	return h.SendWebhook(ctx, WebhookTarget{URL: url, Timeout: 2 * time.Second}, Message{Key: "k"}, time.Unix(0, 0))
}

func TestAnswersAreClassified(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"Retry-After", "Date", "Location"} {
			if v := r.URL.Query().Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	const date = "Mon, 02 Mar 2026 09:30:00 GMT"

	cases := map[string]struct {
		query      string
		reason     string // "" for success
		permanent  bool
		retryAfter time.Duration
	}{
		"200":                       {"status=200", "", false, 0},
		"204":                       {"status=204", "", false, 0},
		"301":                       {"status=301&Location=/elsewhere", "receiver answered 301 Moved Permanently; redirects are not followed", true, 0},
		"302":                       {"status=302&Location=/elsewhere", "receiver answered 302 Found; redirects are not followed", true, 0},
		"307":                       {"status=307&Location=/elsewhere", "receiver answered 307 Temporary Redirect; redirects are not followed", true, 0},
		"308":                       {"status=308&Location=/elsewhere", "receiver answered 308 Permanent Redirect; redirects are not followed", true, 0},
		"400":                       {"status=400", "receiver answered 400 Bad Request", true, 0},
		"401":                       {"status=401", "receiver answered 401 Unauthorized", true, 0},
		"403":                       {"status=403", "receiver answered 403 Forbidden", true, 0},
		"404":                       {"status=404", "receiver answered 404 Not Found", true, 0},
		"410":                       {"status=410", "receiver answered 410 Gone", true, 0},
		"422":                       {"status=422", "receiver answered 422 Unprocessable Entity", true, 0},
		"408":                       {"status=408", "receiver answered 408 Request Timeout", false, 0},
		"425":                       {"status=425", "receiver answered 425 Too Early", false, 0},
		"429":                       {"status=429", "receiver answered 429 Too Many Requests", false, 0},
		"429 retry in seconds":      {"status=429&Retry-After=120", "receiver answered 429 Too Many Requests", false, 2 * time.Minute},
		"429 retry far off":         {"status=429&Retry-After=9999999", "receiver answered 429 Too Many Requests", false, MaxRetryAfter},
		"429 retry negative":        {"status=429&Retry-After=-5", "receiver answered 429 Too Many Requests", false, 0},
		"429 retry nonsense":        {"status=429&Retry-After=soon", "receiver answered 429 Too Many Requests", false, 0},
		"503 retry at a date":       {"status=503&Date=" + url.QueryEscape(date) + "&Retry-After=" + url.QueryEscape("Mon, 02 Mar 2026 09:31:30 GMT"), "receiver answered 503 Service Unavailable", false, 90 * time.Second},
		"503 retry at a past date":  {"status=503&Date=" + url.QueryEscape(date) + "&Retry-After=" + url.QueryEscape("Mon, 02 Mar 2026 09:00:00 GMT"), "receiver answered 503 Service Unavailable", false, 0},
		"500 retry-after is unused": {"status=500&Retry-After=60", "receiver answered 500 Internal Server Error", false, 0},
		"502":                       {"status=502", "receiver answered 502 Bad Gateway", false, 0},
		"504":                       {"status=504", "receiver answered 504 Gateway Timeout", false, 0},
		"599, unnamed":              {"status=599", "receiver answered 599", false, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := send(context.Background(), &HTTP{}, srv.URL+"/hook?"+tc.query)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if err == nil || err.Error() != tc.reason {
				t.Fatalf("got %v, want %q", err, tc.reason)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %t, want %t", IsPermanent(err), tc.permanent)
			}
			d, ok := RetryAfter(err)
			if d != tc.retryAfter || ok != (tc.retryAfter > 0) {
				t.Errorf("RetryAfter = %s, %t; want %s", d, ok, tc.retryAfter)
			}
		})
	}
}

func TestRedirectsAreNeverFollowed(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
	}))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	cases := map[string]*http.Client{
		"no client":                 nil,
		"a plain client":            {},
		"a client that follows all": {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }},
		"the notification client":   NewHTTPClient(HTTPClientOptions{Egress: Egress{AllowLoopback: true}}),
		"a client with a transport": redirector.Client(),
	}
	for name, client := range cases {
		t.Run(name, func(t *testing.T) {
			err := send(context.Background(), &HTTP{Client: client}, redirector.URL+"/hook")
			if err == nil || err.Error() != "receiver answered 307 Temporary Redirect; redirects are not followed" || !IsPermanent(err) {
				t.Fatalf("got %v, want a permanent error for the redirect", err)
			}
			if n := followed.Load(); n != 0 {
				t.Fatalf("the redirect was followed %d times", n)
			}
		})
	}
	if client := cases["a client that follows all"]; client.CheckRedirect(nil, nil) != nil {
		t.Errorf("the caller's client was changed")
	}
}

func TestTransportErrorsSayNothingOfTheAddress(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Once the body is read the server watches the connection, and ends
		// the request's context when the client gives up on it.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are expected
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	hangUp := listen(t, func(c net.Conn) { _ = c.Close() })
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := map[string]struct {
		ctx       context.Context
		url       string
		timeout   time.Duration
		want      string
		permanent bool
		is        error
	}{
		"timeout":            {context.Background(), slow.URL, 50 * time.Millisecond, "timed out waiting for the receiver", false, context.DeadlineExceeded},
		"connection refused": {context.Background(), closedURL, time.Second, "could not connect to the receiver", false, nil},
		"untrusted":          {context.Background(), untrusted.URL, time.Second, "TLS handshake with the receiver failed", false, nil},
		"not TLS":            {context.Background(), strings.Replace(plain.URL, "http:", "https:", 1), time.Second, "TLS handshake with the receiver failed", false, nil},
		"hung up":            {context.Background(), "http://" + hangUp, time.Second, "the connection to the receiver failed before it answered", false, nil},
		"cancelled":          {cancelled, slow.URL, time.Second, "the delivery was cancelled", false, context.Canceled},
		"metadata":           {context.Background(), "http://169.254.169.254", time.Second, ErrEgressRefused.Error(), true, ErrEgressRefused},
		"not a URL":          {context.Background(), "secret-token", time.Second, "receiver URL is not an absolute http(s) URL", true, nil},
		"wrong scheme":       {context.Background(), "ftp://host/secret-token", time.Second, "receiver URL is not an absolute http(s) URL", true, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			target := tc.url + "/hooks/secret-token"
			err := (&HTTP{}).SendWebhook(tc.ctx, WebhookTarget{URL: target, Timeout: tc.timeout}, Message{Key: "k"}, time.Now())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %t, want %t", IsPermanent(err), tc.permanent)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(err, %v) is false", tc.is)
			}
			assertNoAddress(t, err, target)
		})
	}
}

// assertNoAddress fails when err, or anything it wraps, names a part of the URL.
func assertNoAddress(t *testing.T, err error, target string) {
	t.Helper()
	u, _ := url.Parse(target)
	leaks := []string{"secret-token", "127.0.0.1", "169.254", "localhost"}
	if u != nil && u.Port() != "" {
		leaks = append(leaks, u.Port())
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, leak := range leaks {
			if strings.Contains(e.Error(), leak) {
				t.Errorf("error %q names %q", e, leak)
			}
		}
	}
}

func TestTransportErrorClassification(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://hooks.internal.example:8443/secret-token", Err: err}
	}
	cases := map[string]struct {
		err  error
		want string
	}{
		"name not found": {wrap(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.internal.example", IsNotFound: true}}), "could not resolve the receiver's host name"},
		"reset":          {wrap(&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}), "the connection to the receiver failed before it answered"},
		"unreachable":    {wrap(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: no route to host")}), "could not connect to the receiver"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := transportError(context.Background(), tc.err)
			if err.Error() != tc.want || IsPermanent(err) {
				t.Fatalf("got %q (permanent %t), want recoverable %q", err, IsPermanent(err), tc.want)
			}
			assertNoAddress(t, err, "https://hooks.internal.example:8443/secret-token")
		})
	}
}

func TestReceiversOwnReasonPhraseIsNotRepeated(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		_, _ = http.ReadRequest(bufio.NewReader(c))
		_, _ = c.Write([]byte("HTTP/1.1 502 <!channel> see http://10.0.0.7:8080/admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		_ = c.Close()
	})
	err := send(context.Background(), &HTTP{}, "http://"+addr+"/hook")
	if err == nil || err.Error() != "receiver answered 502 Bad Gateway" {
		t.Fatalf("got %v, want the standard reason phrase", err)
	}
}

// listen serves each connection to a loopback listener with handle, and
// returns its address.
func listen(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l.Addr().String()
}

func TestIsPermanentOfOtherErrors(t *testing.T) {
	cases := map[string]struct {
		err  error
		want bool
	}{
		"nil":               {nil, false},
		"unknown":           {errors.New("SMTP: 421 try later"), false},
		"a template error":  {&TemplateError{Part: "body", Err: errors.New("x")}, true},
		"a wrapped answer":  {errors.Join(errors.New("sending"), &DeliveryError{Reason: "receiver answered 404 Not Found", Permanent: true}), true},
		"a wrapped timeout": {errors.Join(errors.New("sending"), &DeliveryError{Reason: "timed out waiting for the receiver"}), false},
	}
	for name, tc := range cases {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("%s: IsPermanent = %t, want %t", name, got, tc.want)
		}
	}
}
