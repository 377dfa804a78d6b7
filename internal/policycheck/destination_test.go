package policycheck

import (
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/incidentops/incident-operator/internal/notify"
)

// mustAllow is AllowDestinations for prefixes known to be good.
func mustAllow(prefixes []string, egress notify.Egress) func(string) error {
	check, err := AllowDestinations(prefixes, egress)
	if err != nil {
		panic(err)
	}
	return check
}

// testPrefixes are the allowed destinations of TestAllowDestinations.
var testPrefixes = []string{
	"https://hooks.example/team-a/",
	"https://hooks.example/team-c",
	"http://10.0.0.7:8080/pd/",
	"https://events.pagerduty.com/",
}

func TestAllowDestinations(t *testing.T) {
	check := mustAllow(testPrefixes, notify.Egress{})
	// refused is a phrase of the reason, "" for a URL that is allowed.
	cases := map[string]struct {
		url     string
		refused string
	}{
		"below the prefix":                     {url: "https://hooks.example/team-a/x"},
		"the prefix itself":                    {url: "https://hooks.example/team-a/"},
		"host in upper case":                   {url: "https://HOOKS.Example/team-a/x"},
		"scheme in upper case":                 {url: "HTTPS://hooks.example/team-a/x"},
		"the default port written":             {url: "https://hooks.example:443/team-a/x"},
		"the default port with a leading zero": {url: "https://hooks.example:0443/team-a/x"},
		"an empty port":                        {url: "https://hooks.example:/team-a/x"},
		"host with the root's dot":             {url: "https://hooks.example./team-a/x"},
		"an unreserved letter escaped":         {url: "https://hooks.example/%74eam-a/x"},
		"a reserved character escaped":         {url: "https://hooks.example/team-a/a%2a"},
		"a dot-dot staying below the prefix":   {url: "https://hooks.example/team-a/x/../y"},
		"a dot segment":                        {url: "https://hooks.example/team-a/./x"},
		"below a prefix without a slash":       {url: "https://hooks.example/team-c/x"},
		"a prefix without a slash, itself":     {url: "https://hooks.example/team-c"},
		"dot-dots in the query and fragment":   {url: "https://hooks.example/team-a/x?to=../../z#/../.."},
		"an address and port":                  {url: "http://10.0.0.7:8080/pd/enqueue"},
		"a root prefix, no path":               {url: "https://events.pagerduty.com"},

		"a dot-dot to a sibling":                 {url: "https://hooks.example/team-a/../team-b/", refused: "under none"},
		"an escaped dot-dot":                     {url: "https://hooks.example/team-a/%2e%2e/team-b/", refused: "under none"},
		"an escaped dot-dot in upper case":       {url: "https://hooks.example/team-a/%2E%2E/team-b/", refused: "under none"},
		"a half-escaped dot-dot":                 {url: "https://hooks.example/team-a/.%2e/team-b/", refused: "under none"},
		"a dot-dot at the end":                   {url: "https://hooks.example/team-a/..", refused: "under none"},
		"a dot-dot from outside in":              {url: "https://hooks.example/team-b/../team-a/x", refused: "under none"},
		"a dot-dot above the root":               {url: "https://hooks.example/../team-a/x", refused: "under none"},
		"a dot segment before the prefix":        {url: "https://hooks.example/./team-a/x", refused: "under none"},
		"a sibling sharing the prefix's letters": {url: "https://hooks.example/team-cd", refused: "under none"},
		"the prefix without its slash":           {url: "https://hooks.example/team-a", refused: "under none"},
		"an escaped slash":                       {url: "https://hooks.example/team-a/..%2F..%2Fteam-b", refused: "escaped slash"},
		"an escaped slash in lower case":         {url: "https://hooks.example/team-a/..%2f..%2fteam-b", refused: "escaped slash"},
		"dot-dot-semicolon (Tomcat)":             {url: "https://hooks.example/team-a/..;/team-b/", refused: "semicolon"},
		"an escaped semicolon":                   {url: "https://hooks.example/team-a/..%3B/team-b/", refused: "semicolon"},
		"a backslash":                            {url: `https://hooks.example/team-a\..\team-b`, refused: "backslash"},
		"an escaped backslash":                   {url: "https://hooks.example/team-a/..%5Cteam-b", refused: "escaped backslash"},
		"a double-escaped dot-dot":               {url: "https://hooks.example/team-a/%252e%252e/team-b", refused: "percent sign"},
		"an escaped NUL":                         {url: "https://hooks.example/team-a/x%00", refused: "control character"},
		"a double slash before a dot-dot":        {url: "https://hooks.example/team-a//../team-b", refused: "empty segment"},
		"a double slash first":                   {url: "https://hooks.example//team-a/x", refused: "empty segment"},
		"another host":                           {url: "https://hooks.example.net/team-a/", refused: "under none"},
		"the allowed host as a subdomain":        {url: "https://hooks.example.attacker.example/team-a/", refused: "under none"},
		"user info hiding the host":              {url: "https://hooks.example@169.254.169.254/team-a/", refused: "user information"},
		"user info before the allowed host":      {url: "https://x@hooks.example/team-a/", refused: "user information"},
		"another port":                           {url: "https://hooks.example:8443/team-a/", refused: "under none"},
		"http for https":                         {url: "http://hooks.example/team-a/", refused: "under none"},
		"another scheme":                         {url: "ftp://hooks.example/team-a/", refused: "scheme"},
		"an IPv6 zone":                           {url: "http://[fe80::1%25eth0]/", refused: "percent sign"},
		"a host that is not ASCII":               {url: "https://hooks.exämple/team-a/", refused: "xn--"},
		"a full-width host":                      {url: "https://ｈooks.example/team-a/", refused: "xn--"},
		"an IPv4 address as one number":          {url: "http://2130706433/", refused: "looks like an IPv4"},
		"an IPv4 address in octal":               {url: "http://0177.0.0.1/", refused: "looks like an IPv4"},
		"an IPv4 address in hex":                 {url: "http://0x7f.1/", refused: "looks like an IPv4"},
		"an IPv4 address cut short":              {url: "http://127.1/", refused: "looks like an IPv4"},
		"the metadata address":                   {url: "http://169.254.169.254/latest/", refused: "link-local"},
		"the metadata address through NAT64":     {url: "http://[64:ff9b::a9fe:a9fe]/", refused: "NAT64"},
		"the metadata address through 6to4":      {url: "http://[2002:a9fe:a9fe::]/", refused: "6to4"},
		"loopback":                               {url: "http://127.0.0.1:8080/pd/", refused: "loopback"},
		"loopback, IPv4-mapped":                  {url: "http://[::ffff:127.0.0.1]/", refused: "loopback"},
		"unspecified":                            {url: "http://0.0.0.0/", refused: "unspecified"},
		"port zero":                              {url: "https://hooks.example:0/team-a/", refused: "port"},
		"a port too large":                       {url: "https://hooks.example:65536/team-a/", refused: "port"},
		"no host":                                {url: "https:///team-a/", refused: "no host"},
		"opaque":                                 {url: "https:hooks.example/team-a/", refused: "no host"},
		"not a URL":                              {url: "://hooks.example/", refused: "parse"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assertRefusal(t, check(tc.url), tc.refused)
		})
	}
}

func TestAllowedDestinationsMustBePlain(t *testing.T) {
	// refused is a phrase of the reason, "" for a prefix that is accepted;
	// byEgress is true when the egress rules refuse it, not its form.
	cases := map[string]struct {
		prefix   string
		egress   notify.Egress
		refused  string
		byEgress bool
	}{
		"a plain prefix":              {prefix: "https://hooks.example/team-a/"},
		"loopback, allowed":           {prefix: "http://127.0.0.1:8080/pd/", egress: notify.Egress{AllowLoopback: true}},
		"a query":                     {prefix: "https://hooks.example/team-a/?x=1", refused: "query"},
		"a fragment":                  {prefix: "https://hooks.example/team-a/#x", refused: "fragment"},
		"a dot-dot":                   {prefix: "https://hooks.example/team-a/../", refused: "dot segments"},
		"an escaped dot":              {prefix: "https://hooks.example/%2e/team-a/", refused: "dot segments"},
		"user info":                   {prefix: "https://user@hooks.example/", refused: "user information"},
		"an escaped slash":            {prefix: "https://hooks.example/a%2Fb/", refused: "escaped slash"},
		"loopback, not allowed":       {prefix: "http://127.0.0.1:8080/pd/", refused: "loopback", byEgress: true},
		"metadata with loopback only": {prefix: "http://169.254.169.254/", egress: notify.Egress{AllowLoopback: true}, refused: "link-local", byEgress: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := AllowDestinations([]string{tc.prefix}, tc.egress)
			assertRefusal(t, err, tc.refused)
			// The flag checks the form alone; the egress rules are known later.
			if err := ValidateAllowedDestination(tc.prefix); (err != nil) != (tc.refused != "" && !tc.byEgress) {
				t.Errorf("ValidateAllowedDestination = %v", err)
			}
		})
	}
}

// assertRefusal fails unless err is nil when refused is "", and otherwise
// says refused.
func assertRefusal(t *testing.T, err error, refused string) {
	t.Helper()
	switch {
	case refused == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case refused != "" && err == nil:
		t.Fatalf("allowed, want refused for %q", refused)
	case err != nil && !strings.Contains(err.Error(), refused):
		t.Fatalf("refused with %q, want it to say %q", err, refused)
	}
}

// RFC 3986 section 5.2.4's examples, and the edges of the root.
func TestRemoveDotSegments(t *testing.T) {
	cases := map[string]string{
		"/a/b/c/./../../g":   "/a/g",
		"/./g":               "/g",
		"/../g":              "/g",
		"/g/.":               "/g/",
		"/g/..":              "/",
		"/a/b/..":            "/a/",
		"/a/./b/":            "/a/b/",
		"/.":                 "/",
		"/..":                "/",
		"/a/b/c/../../../..": "/",
		"/a/%2E%2e/b":        "/b",
		"":                   "/",
		"/":                  "/",
	}
	for in, want := range cases {
		got, _, err := normalPath(in)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzAllowedDestination checks that a URL allowed under a prefix stays
// under it however a server reads it: as RFC 3986 says; without removing
// dot segments; or decoding every escape twice, taking a backslash for a
// slash, dropping what follows a semicolon, merging slashes and then
// removing dot segments.
func FuzzAllowedDestination(f *testing.F) {
	for _, prefix := range testPrefixes {
		f.Add(prefix, prefix+"x")
	}
	for _, raw := range []string{
		"https://hooks.example/team-a/../team-b/", "https://hooks.example/team-a/%2e%2e/team-b/",
		"https://hooks.example/team-a/..%2F..%2Fteam-b", "https://hooks.example/team-a/..;/team-b/",
		"https://hooks.example/team-a/%252e%252e/", "https://hooks.example/team-a//../team-b",
		"https://hooks.example/team-a/x/../y", "https://hooks.example/team-b/../team-a/", "https://hooks.example/team-ab",
		"https://HOOKS.example:443/team-a/./x", `https://hooks.example/team-a\..\team-b`,
	} {
		f.Add("https://hooks.example/team-a/", raw)
		f.Add("https://hooks.example/team-a", raw)
	}
	f.Fuzz(func(t *testing.T, prefix, raw string) {
		check, err := AllowDestinations([]string{prefix}, notify.Egress{})
		if err != nil || check(raw) != nil {
			return
		}
		d, err := parseDestination(raw)
		if err != nil {
			t.Fatalf("allowed %q but it does not parse: %v", raw, err)
		}
		p, _ := parseDestination(prefix)
		if !pathUnder(d.path, p.path) {
			t.Fatalf("allowed %q under %q, but its path %q is not under %q", raw, prefix, d.path, p.path)
		}
		again, err := parseDestination(d.scheme + "://" + d.host + d.path)
		if err != nil || again.path != d.path || again.host != d.host {
			t.Fatalf("%q normalised to %s%s, which normalises to %s%s (%v)", raw, d.host, d.path, again.host, again.path, err)
		}

		u, pu := mustParse(t, raw), mustParse(t, prefix)
		if !strings.EqualFold(u.Scheme, pu.Scheme) || hostOf(u) != hostOf(pu) {
			t.Fatalf("allowed %q under %q on another scheme or host", raw, prefix)
		}
		if !segmentsUnder(u.Path, pu.Path) {
			t.Fatalf("allowed %q under %q, but a server that keeps dot segments reads %q", raw, prefix, u.Path)
		}
		if read, under := laxReading(u.EscapedPath()), laxReading(pu.EscapedPath()); !segmentsUnder(read, under) {
			t.Fatalf("allowed %q under %q, but a lax server reads %q", raw, prefix, read)
		}
	})
}

func mustParse(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("allowed %q, which does not parse: %v", raw, err)
	}
	return u
}

// hostOf is where u connects: its address, or its name in lower case
// without the root's dot, and its port.
func hostOf(u *url.URL) string {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if addr, err := netip.ParseAddr(host); err == nil {
		host = addr.String()
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"http": 80, "https": 443}[strings.ToLower(u.Scheme)]
	}
	return host + ":" + strconv.Itoa(port)
}

// laxReading is escaped as the laxest servers read it: escapes decoded
// twice, backslashes taken for slashes, what follows a semicolon in a
// segment dropped, slashes merged and dot segments removed.
func laxReading(escaped string) string {
	p := escaped
	for range 2 {
		if decoded, err := url.PathUnescape(p); err == nil {
			p = decoded
		}
	}
	segments := strings.Split(strings.ReplaceAll(p, `\`, "/"), "/")
	for i, s := range segments {
		segments[i], _, _ = strings.Cut(s, ";")
	}
	return path.Clean("/" + strings.Join(segments, "/"))
}

// segmentsUnder is whether p is prefix or below it, segment by segment,
// trailing slashes aside.
func segmentsUnder(p, prefix string) bool {
	return strings.HasPrefix(strings.TrimSuffix(p, "/")+"/", strings.TrimSuffix(prefix, "/")+"/")
}
