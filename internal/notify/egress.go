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
var ErrEgressRefused = errors.New("the receiver's address is refused by the operator's egress rules: link-local, cloud metadata, loopback and unspecified addresses are not reachable")

// HTTPClientOptions shape the client NewHTTPClient builds.
type HTTPClientOptions struct {
	// Egress is which addresses the client may connect to.
	Egress Egress
}

// Egress is which addresses receivers may be reached on: every address but
// these, however they are written (as IPv4-mapped or IPv4-compatible IPv6,
// or embedded in a NAT64, 6to4 or Teredo address). Link-local and cloud
// metadata addresses are refused because a policy author could point a
// receiver at the instance metadata service and read its answers in the
// delivery status; loopback and unspecified addresses because they reach
// the operator's own pod.
type Egress struct {
	// AllowLinkLocal lets receivers be reached on link-local and cloud
	// metadata addresses.
	AllowLinkLocal bool
	// AllowLoopback lets receivers be reached on loopback and unspecified
	// addresses, where tests and local development run their receivers.
	AllowLoopback bool
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
		Control:   opts.Egress.Control,
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

// Control is a net.Dialer Control function that refuses the addresses e
// refuses. It runs after the socket is made and before it connects, so a
// refused address is sent nothing.
func (e Egress) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return ErrEgressRefused
	}
	if _, refused := e.Refusal(ap.Addr()); refused {
		return ErrEgressRefused
	}
	return nil
}

// Refusal says whether e refuses addr and, if it does, why, in words such
// as "a loopback address written as NAT64 (64:ff9b::/96)".
func (e Egress) Refusal(addr netip.Addr) (reason string, refused bool) {
	// An IPv4-mapped address is the IPv4 address: it is dialled as one.
	addr = addr.WithZone("").Unmap()
	if kind := kindOf(addr); kind != nil && !e.allows(kind) {
		return kind.name, true
	}
	for _, in := range embeddedIPv4(addr) {
		kind := kindOf(in.addr)
		if kind == nil || e.allows(kind) || (kind == unspecified && in.guessed) {
			continue
		}
		return kind.name + " written as " + in.form, true
	}
	return "", false
}

// addressKind is a kind of address the egress rules refuse.
type addressKind struct {
	name string
	// thisHost is true for the kinds AllowLoopback allows, false for those
	// AllowLinkLocal allows.
	thisHost bool
}

var (
	linkLocal   = &addressKind{name: "a link-local address"}
	metadata    = &addressKind{name: "a cloud metadata address"}
	loopback    = &addressKind{name: "a loopback address", thisHost: true}
	unspecified = &addressKind{name: "an unspecified address", thisHost: true}
)

func (e Egress) allows(kind *addressKind) bool {
	if kind.thisHost {
		return e.AllowLoopback
	}
	return e.AllowLinkLocal
}

// metadataAddrs are cloud metadata services outside the link-local ranges.
// 169.254.169.254, where most clouds serve theirs, is link-local.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS, over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// thisNetwork is 0.0.0.0/8, which Linux connects to as the host itself.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// kindOf is the kind of refused address addr is as written, or nil. An
// IPv4 address embedded in an IPv6 one is embeddedIPv4's to find.
func kindOf(addr netip.Addr) *addressKind {
	switch {
	case addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast():
		return linkLocal
	case addr.IsLoopback():
		return loopback
	case addr.IsUnspecified() || thisNetwork.Contains(addr):
		return unspecified
	}
	for _, m := range metadataAddrs {
		if addr == m {
			return metadata
		}
	}
	return nil
}

// embedded is an IPv4 address found inside an IPv6 one.
type embedded struct {
	addr netip.Addr
	form string
	// guessed is true when the scheme leaves open where the address lies
	// and this is one of several readings. A reading of the wrong layout
	// mostly reads zeros, so 0.0.0.0/8 is not refused from it: a NAT64
	// gateway does not translate to that range anyway.
	guessed bool
}

var (
	ipv4Compatible = netip.MustParsePrefix("::/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 is every IPv4 address that addr carries to by the standard
// translation and tunnelling schemes. Where a scheme leaves the position
// open it gives every reading, so that any of them refused refuses addr.
func embeddedIPv4(addr netip.Addr) []embedded {
	if addr.Is4() {
		return nil
	}
	b := addr.As16()
	v4 := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	switch {
	case ipv4Compatible.Contains(addr):
		return []embedded{{addr: v4(12, 13, 14, 15), form: "IPv4-compatible IPv6 (::/96)"}}
	case nat64.Contains(addr):
		return []embedded{{addr: v4(12, 13, 14, 15), form: "NAT64 (64:ff9b::/96)"}}
	case nat64Local.Contains(addr):
		// The network's prefix may be 48 to 96 bits long. RFC 6052 section
		// 2.2 lays the address out for each length, skipping bits 64 to 71,
		// which are zero like every bit after the address; each layout
		// those zeros fit is a reading.
		const form = "local-use NAT64 (64:ff9b:1::/48)"
		zeroFrom := func(i int) bool { return b[8] == 0 && allZero(b[i:]) }
		readings := []embedded{{v4(12, 13, 14, 15), form, true}} // a /96 prefix
		if zeroFrom(11) {
			readings = append(readings, embedded{v4(6, 7, 9, 10), form, true}) // a /48 prefix
		}
		if zeroFrom(12) {
			readings = append(readings, embedded{v4(7, 9, 10, 11), form, true}) // a /56 prefix
		}
		if zeroFrom(13) {
			readings = append(readings, embedded{v4(9, 10, 11, 12), form, true}) // a /64 prefix
		}
		return readings
	case sixToFour.Contains(addr):
		return []embedded{{addr: v4(2, 3, 4, 5), form: "6to4 (2002::/16)"}}
	case teredo.Contains(addr):
		// The server's address in the clear, the client's with its bits
		// inverted (RFC 4380 section 4).
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return []embedded{{addr: v4(4, 5, 6, 7), form: "Teredo (2001::/32)"}, {addr: client, form: "Teredo (2001::/32)"}}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
