package notify

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrEgressRefused is the error of a connection the egress rules refuse. It
// does not say which address was refused.
var ErrEgressRefused = errors.New("the receiver's address is refused by the operator's egress rules: link-local and cloud metadata addresses are not reachable")

// HTTPClientOptions shape the client NewHTTPClient builds.
type HTTPClientOptions struct {
	// AllowLinkLocal lets receivers be reached on link-local and cloud
	// metadata addresses, which are otherwise refused: a policy author could
	// point a receiver at the instance metadata service and read its answers
	// in the delivery status.
	AllowLinkLocal bool
}

// NewHTTPClient is the client for notifications. It checks every address it
// connects to as it connects, after name resolution, so that a name that
// resolves elsewhere the second time cannot get past the check. It ignores
// HTTP_PROXY and its kin: a proxy would connect on its behalf, unchecked.
// Connecting and the TLS handshake have 10 seconds each; the whole delivery
// has the receiver's timeout (DefaultTimeout when it sets none).
func NewHTTPClient(opts HTTPClientOptions) *http.Client {
	return &http.Client{
		Transport:     newTransport(opts),
		CheckRedirect: refuseRedirect,
	}
}

func newTransport(opts HTTPClientOptions) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   EgressControl(opts.AllowLinkLocal),
	}
	return &http.Transport{
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// EgressControl is a net.Dialer Control function that refuses link-local
// and cloud metadata addresses, unless allowLinkLocal. It runs after the
// socket is made and before it connects, so a refused address is sent
// nothing.
func EgressControl(allowLinkLocal bool) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		if allowLinkLocal {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || refusedAddr(ap.Addr()) {
			return ErrEgressRefused
		}
		return nil
	}
}

// metadataAddrs are cloud metadata services outside the link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS, over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// nat64 is the well-known NAT64 prefix, through which an IPv6-only host
// reaches IPv4 addresses.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedAddr is whether the egress rules refuse addr: link-local (which
// holds 169.254.169.254, the usual metadata address), a metadata address, or
// one of those written as IPv4-mapped or NAT64 IPv6.
func refusedAddr(addr netip.Addr) bool {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:]))
	}
	if addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() {
		return true
	}
	for _, m := range metadataAddrs {
		if addr == m {
			return true
		}
	}
	return false
}
