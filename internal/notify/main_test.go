package notify

import (
	"net/http"
	"os"
	"sync"
	"testing"
)

// shippedTransport is the transport of a client without one, as the
// operator ships it; TestMain swaps it for one that reaches loopback.
var shippedTransport http.RoundTripper

// TestMain lets the package's tests reach their servers on loopback through
// the transport of a client without one. egress_test.go checks, with
// shippedTransport, that the operator's own refuses loopback.
func TestMain(m *testing.M) {
	shippedTransport = defaultTransport()
	defaultTransport = sync.OnceValue(func() http.RoundTripper {
		return newTransport(HTTPClientOptions{Egress: Egress{AllowLoopback: true}})
	})
	os.Exit(m.Run())
}
