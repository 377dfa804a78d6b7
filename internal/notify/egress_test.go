package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestRefusedAddresses(t *testing.T) {
	cases := map[string]bool{
		"169.254.169.254":         true, // AWS, GCP, Azure, OCI metadata
		"169.254.0.1":             true,
		"169.254.255.255":         true,
		"fe80::1":                 true,
		"fe80::1%eth0":            true,
		"febf::1":                 true,
		"fd00:ec2::254":           true, // AWS metadata over IPv6
		"100.100.100.200":         true, // Alibaba Cloud metadata
		"::ffff:169.254.169.254":  true,
		"::ffff:100.100.100.200":  true,
		"64:ff9b::a9fe:a9fe":      true, // 169.254.169.254 through NAT64
		"224.0.0.1":               true, // link-local multicast
		"127.0.0.1":               false,
		"::1":                     false,
		"10.0.0.1":                false,
		"192.168.1.10":            false,
		"100.100.100.201":         false,
		"169.253.255.255":         false,
		"fd00:ec2::253":           false,
		"fec0::1":                 false,
		"2001:db8::1":             false,
		"::ffff:127.0.0.1":        false,
		"64:ff9b::a00:1":          false, // 10.0.0.1 through NAT64
		"2606:4700:4700::1111":    false,
		"::ffff:169.254.169.254x": true, // unparseable: refused
	}
	for addr, refused := range cases {
		err := EgressControl(false)("tcp", net.JoinHostPort(addr, "80"), nil)
		if (err != nil) != refused {
			t.Errorf("%s: refused %t, want %t", addr, err != nil, refused)
		}
		if err != nil && !errors.Is(err, ErrEgressRefused) {
			t.Errorf("%s: error %v", addr, err)
		}
		if err := EgressControl(true)("tcp", net.JoinHostPort(addr, "80"), nil); err != nil {
			t.Errorf("%s: refused with AllowLinkLocal", addr)
		}
	}
	if !refusedAddr(netip.MustParseAddr("169.254.169.254")) {
		t.Error("refusedAddr does not refuse the metadata address")
	}
}

// TestLinkLocalIsRefusedAsItConnects dials metadata addresses for real. The
// Control function refuses them after the socket is made and before it
// connects, so nothing is sent.
func TestLinkLocalIsRefusedAsItConnects(t *testing.T) {
	clients := map[string]*http.Client{
		"no client":               nil,
		"a client of its own":     {},
		"the notification client": NewHTTPClient(HTTPClientOptions{}),
	}
	urls := []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[::ffff:169.254.169.254]/computeMetadata/v1/",
		"http://100.100.100.200/latest/meta-data/",
	}
	for name, client := range clients {
		for _, u := range urls {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := (&HTTP{Client: client}).SendChat(ctx, ChatTarget{URL: u}, []byte("{}"))
			cancel()
			if !errors.Is(err, ErrEgressRefused) || !IsPermanent(err) {
				t.Errorf("%s, %s: got %v, want the egress refusal", name, u, err)
			}
			assertNoAddress(t, err, u)
		}
	}
}

func TestLoopbackStaysReachable(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	h := &HTTP{Client: NewHTTPClient(HTTPClientOptions{})}
	if err := h.SendChat(context.Background(), ChatTarget{URL: srv.URL}, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	<-got
}
