package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestEgressRefusesEveryForm(t *testing.T) {
	const (
		compatible = "IPv4-compatible IPv6 (::/96)"
		nat64      = "NAT64 (64:ff9b::/96)"
		nat64Local = "local-use NAT64 (64:ff9b:1::/48)"
		sixToFour  = "6to4 (2002::/16)"
		teredo     = "Teredo (2001::/32)"
	)
	// kind is what the address is refused as, nil when it is not; form is
	// what it is written as, when that is not the address itself.
	cases := map[string]struct {
		addr string
		kind *addressKind
		form string
	}{
		"metadata (AWS, GCP, Azure, OCI)":        {addr: "169.254.169.254", kind: linkLocal},
		"link-local, lowest":                     {addr: "169.254.0.1", kind: linkLocal},
		"link-local, highest":                    {addr: "169.254.255.255", kind: linkLocal},
		"link-local IPv6":                        {addr: "fe80::1", kind: linkLocal},
		"link-local IPv6 with a zone":            {addr: "fe80::1%eth0", kind: linkLocal},
		"link-local IPv6, highest":               {addr: "febf::1", kind: linkLocal},
		"link-local multicast":                   {addr: "224.0.0.1", kind: linkLocal},
		"link-local multicast IPv6":              {addr: "ff02::1", kind: linkLocal},
		"metadata over IPv6 (AWS)":               {addr: "fd00:ec2::254", kind: metadata},
		"metadata (Alibaba Cloud)":               {addr: "100.100.100.200", kind: metadata},
		"loopback":                               {addr: "127.0.0.1", kind: loopback},
		"loopback, elsewhere in 127/8":           {addr: "127.255.255.254", kind: loopback},
		"loopback IPv6":                          {addr: "::1", kind: loopback},
		"unspecified":                            {addr: "0.0.0.0", kind: unspecified},
		"unspecified, elsewhere in 0/8":          {addr: "0.1.2.3", kind: unspecified},
		"unspecified IPv6":                       {addr: "::", kind: unspecified},
		"metadata, IPv4-mapped":                  {addr: "::ffff:169.254.169.254", kind: linkLocal},
		"metadata (Alibaba), IPv4-mapped":        {addr: "::ffff:100.100.100.200", kind: metadata},
		"loopback, IPv4-mapped":                  {addr: "::ffff:127.0.0.1", kind: loopback},
		"unspecified, IPv4-mapped":               {addr: "::ffff:0.0.0.0", kind: unspecified},
		"metadata, IPv4-compatible":              {addr: "::a9fe:a9fe", kind: linkLocal, form: compatible},
		"loopback, IPv4-compatible":              {addr: "::7f00:1", kind: loopback, form: compatible},
		"metadata, NAT64":                        {addr: "64:ff9b::a9fe:a9fe", kind: linkLocal, form: nat64},
		"metadata (Alibaba), NAT64":              {addr: "64:ff9b::6464:64c8", kind: metadata, form: nat64},
		"loopback, NAT64":                        {addr: "64:ff9b::7f00:1", kind: loopback, form: nat64},
		"unspecified, NAT64":                     {addr: "64:ff9b::", kind: unspecified, form: nat64},
		"metadata, local-use NAT64 /96":          {addr: "64:ff9b:1::a9fe:a9fe", kind: linkLocal, form: nat64Local},
		"metadata, local-use NAT64 /64":          {addr: "64:ff9b:1:0:a9:fea9:fe00:0", kind: linkLocal, form: nat64Local},
		"metadata, local-use NAT64 /56":          {addr: "64:ff9b:1:a9:fe:a9fe::", kind: linkLocal, form: nat64Local},
		"metadata, local-use NAT64 /48":          {addr: "64:ff9b:1:a9fe:a9:fe00::", kind: linkLocal, form: nat64Local},
		"loopback, local-use NAT64 /96":          {addr: "64:ff9b:1::7f00:1", kind: loopback, form: nat64Local},
		"loopback, local-use NAT64 /48":          {addr: "64:ff9b:1:7f00:0:100::", kind: loopback, form: nat64Local},
		"metadata, 6to4":                         {addr: "2002:a9fe:a9fe::1", kind: linkLocal, form: sixToFour},
		"loopback, 6to4":                         {addr: "2002:7f00:1::", kind: loopback, form: sixToFour},
		"unspecified, 6to4":                      {addr: "2002::1", kind: unspecified, form: sixToFour},
		"metadata, Teredo client":                {addr: "2001:0:4136:e378:8000:63bf:5601:5601", kind: linkLocal, form: teredo},
		"loopback, Teredo server":                {addr: "2001:0:7f00:1::", kind: loopback, form: teredo},
		"private":                                {addr: "10.0.0.1"},
		"private, 192.168/16":                    {addr: "192.168.1.10"},
		"beside Alibaba's metadata":              {addr: "100.100.100.201"},
		"below link-local":                       {addr: "169.253.255.255"},
		"above 0/8":                              {addr: "1.0.0.0"},
		"beside AWS's metadata over IPv6":        {addr: "fd00:ec2::253"},
		"site-local IPv6":                        {addr: "fec0::1"},
		"documentation IPv6":                     {addr: "2001:db8::1"},
		"public IPv6":                            {addr: "2606:4700:4700::1111"},
		"private, IPv4-mapped":                   {addr: "::ffff:10.0.0.1"},
		"private, NAT64":                         {addr: "64:ff9b::a00:1"},
		"public, local-use NAT64 /96":            {addr: "64:ff9b:1::808:808"},
		"public, local-use NAT64 /48":            {addr: "64:ff9b:1:808:8:800::"},
		"public, 6to4":                           {addr: "2002:808:808::1"},
		"public, Teredo (RFC 4380's example)":    {addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		"link-local prefix, not NAT64 (64:ff9a)": {addr: "64:ff9a::a9fe:a9fe"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr := netip.MustParseAddr(tc.addr)
			reason, refused := Egress{}.Refusal(addr)
			if refused != (tc.kind != nil) {
				t.Fatalf("refused %t (%s), want %t", refused, reason, tc.kind != nil)
			}
			if !refused {
				return
			}
			want := tc.kind.name
			if tc.form != "" {
				want += " written as " + tc.form
			}
			if reason != want {
				t.Errorf("refused as %q, want %q", reason, want)
			}
			// Only the switch for its kind lets it through.
			own, other := Egress{AllowLinkLocal: true}, Egress{AllowLoopback: true}
			if tc.kind.thisHost {
				own, other = other, own
			}
			if _, refused := own.Refusal(addr); refused {
				t.Errorf("refused with %+v", own)
			}
			if _, refused := other.Refusal(addr); !refused {
				t.Errorf("let through with %+v", other)
			}
		})
	}
}

func TestEgressControl(t *testing.T) {
	both := Egress{AllowLinkLocal: true, AllowLoopback: true}
	cases := map[string]struct {
		address  string
		egress   Egress
		refused  bool
		describe string
	}{
		"metadata":                  {address: "169.254.169.254:80", refused: true},
		"metadata, NAT64":           {address: "[64:ff9b::a9fe:a9fe]:80", refused: true},
		"loopback":                  {address: "127.0.0.1:8080", refused: true},
		"loopback IPv6":             {address: "[::1]:8080", refused: true},
		"unspecified":               {address: "0.0.0.0:8080", refused: true},
		"public":                    {address: "192.0.2.10:443"},
		"metadata, allowed":         {address: "169.254.169.254:80", egress: Egress{AllowLinkLocal: true}},
		"loopback, allowed":         {address: "127.0.0.1:8080", egress: Egress{AllowLoopback: true}},
		"not an address":            {address: "::ffff:169.254.169.254x:80", refused: true},
		"not an address, all open":  {address: "hooks.example:80", egress: both, refused: true},
		"no port":                   {address: "10.0.0.1", refused: true},
		"link-local with a zone":    {address: "[fe80::1%eth0]:80", refused: true},
		"link-local zone, allowed":  {address: "[fe80::1%eth0]:80", egress: both},
		"loopback, link-local only": {address: "127.0.0.1:8080", egress: Egress{AllowLinkLocal: true}, refused: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.egress.Control("tcp", tc.address, nil)
			if (err != nil) != tc.refused {
				t.Fatalf("refused %t, want %t", err != nil, tc.refused)
			}
			if err != nil && !errors.Is(err, ErrEgressRefused) {
				t.Errorf("error %v", err)
			}
		})
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

// TestLoopbackIsReachableOnlyWhenAllowed sends to a real server on
// loopback, written in several ways, and checks that it hears nothing until
// loopback is allowed.
func TestLoopbackIsReachableOnlyWhenAllowed(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	urls := []string{srv.URL, "http://localhost:" + port, "http://0.0.0.0:" + port}
	refusing := map[string]*HTTP{
		"the shipped client of no client": {Client: &http.Client{Transport: shippedTransport}},
		"the notification client":         {Client: NewHTTPClient(HTTPClientOptions{})},
		"link-local allowed":              {Client: NewHTTPClient(HTTPClientOptions{Egress: Egress{AllowLinkLocal: true}})},
	}
	for name, h := range refusing {
		for _, u := range urls {
			err := h.SendChat(context.Background(), ChatTarget{URL: u}, []byte("{}"))
			if !errors.Is(err, ErrEgressRefused) || !IsPermanent(err) {
				t.Errorf("%s, %s: got %v, want the egress refusal", name, u, err)
			}
			assertNoAddress(t, err, u)
		}
	}
	select {
	case <-got:
		t.Fatal("the loopback server was sent a notification")
	default:
	}

	h := &HTTP{Client: NewHTTPClient(HTTPClientOptions{Egress: Egress{AllowLoopback: true}})}
	if err := h.SendChat(context.Background(), ChatTarget{URL: srv.URL}, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	<-got
}
