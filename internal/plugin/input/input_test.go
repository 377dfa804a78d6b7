package input

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/report"
)

func TestEnum(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    securityv1alpha1.Severity
		wantErr string
	}{
		"exact":                     {in: "High", want: "High"},
		"any case":                  {in: "critical", want: "Critical"},
		"spaces around":             {in: " low ", want: "Low"},
		"unknown lists every value": {in: "Urgent", wantErr: `--severity "Urgent" is not valid: use one of Low, Medium, High, Critical`},
		"missing":                   {in: "", wantErr: "--severity is required: one of Low, Medium, High, Critical"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Enum("severity", tc.in, report.Severities)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Enum(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestTime(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		"now":                      {in: "now", want: now},
		"RFC 3339 keeps its zone":  {in: "2026-11-20T09:30:00Z", want: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)},
		"no zone is read in loc":   {in: "2026-07-01 09:30", want: time.Date(2026, 7, 1, 8, 30, 0, 0, time.UTC)},
		"a date is its midnight":   {in: "2026-12-01", want: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		"day first is not guessed": {in: "01/07/2026", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Time("at", tc.in, london, now)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "--at") {
					t.Fatalf("error %v, want one naming --at", err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("Time(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := map[string]struct {
		in   string
		want time.Duration
	}{
		"days":        {"7d", 7 * 24 * time.Hour},
		"weeks":       {"2w", 14 * 24 * time.Hour},
		"Go duration": {"90m", 90 * time.Minute},
		"zero":        {"0d", 0},
		"negative":    {"-3h", 0},
		"words":       {"a week", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Age("since", tc.in)
			if tc.want == 0 {
				if err == nil {
					t.Fatalf("Age(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Age(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestPeriod(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, london) }
	tests := map[string]struct {
		in       string
		from, to time.Time
	}{
		"month":                             {"2026-10", d(2026, 10, 1), d(2026, 11, 1)},
		"December ends in the year":         {"2026-12", d(2026, 12, 1), d(2027, 1, 1)},
		"year":                              {"2026", d(2026, 1, 1), d(2027, 1, 1)},
		"quarter":                           {"2026-Q4", d(2026, 10, 1), d(2027, 1, 1)},
		"ISO week 1 of 2026 starts in 2025": {"2026-W01", d(2025, 12, 29), d(2026, 1, 5)},
		"ISO week 43":                       {"2026-w43", d(2026, 10, 19), d(2026, 10, 26)},
		"day":                               {"2026-10-05", d(2026, 10, 5), d(2026, 10, 6)},
		"no 13th month":                     {"2026-13", time.Time{}, time.Time{}},
		"2026 has a week 53":                {"2026-W53", d(2026, 12, 28), d(2027, 1, 4)},
		"2027 has no week 53":               {"2027-W53", time.Time{}, time.Time{}},
		"words":                             {"last month", time.Time{}, time.Time{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			from, to, err := Period("period", tc.in, london)
			if tc.from.IsZero() {
				if err == nil {
					t.Fatalf("Period(%q) = %v..%v, want an error", tc.in, from, to)
				}
				return
			}
			if err != nil || !from.Equal(tc.from) || !to.Equal(tc.to) {
				t.Fatalf("Period(%q) = %v..%v, %v; want %v..%v", tc.in, from, to, err, tc.from, tc.to)
			}
		})
	}
}

func TestContact(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    securityv1alpha1.Contact
		wantErr bool
	}{
		"name only":              {in: "Tom Okafor", want: securityv1alpha1.Contact{Name: "Tom Okafor"}},
		"name and email":         {in: "Tom Okafor:tom.okafor@example.org", want: securityv1alpha1.Contact{Name: "Tom Okafor", Email: "tom.okafor@example.org"}},
		"a colon in the name":    {in: "Head: Finance", want: securityv1alpha1.Contact{Name: "Head: Finance"}},
		"email without a name":   {in: ":tom@example.org", wantErr: true},
		"email without a domain": {in: "Tom:tom@localhost", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Contact("line-manager", tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Contact(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Contact(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestNamePrefix(t *testing.T) {
	tests := map[string]string{
		"Finance laptop left on a train":    "finance-laptop-left-on-a-train-",
		"  Phishing!! mail -- 'payroll'  ":  "phishing-mail-payroll-",
		"★★★":                               "incident-",
		strings.Repeat("verylongword ", 10): "verylongword-verylongword-verylongword-v-",
	}
	for in, want := range tests {
		if got := NamePrefix(in); got != want {
			t.Errorf("NamePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// A ring read from a key file verifies what the operator's key signed,
// and refuses what another key signed.
func TestKeyRing(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: "phish", UID: "uid-1"}
	chain := audit.NewChain("council", subject, nil)
	entries := []securityv1alpha1.AuditEntry{
		chain.Append(audit.Key{ID: "k1", Secret: secret}, time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC), securityv1alpha1.AuditActor{Username: "rob"}, securityv1alpha1.AuditReported, nil),
	}
	b64 := base64.StdEncoding.EncodeToString
	tests := map[string]struct {
		file     string
		verifies bool
		wantErr  string
	}{
		"id=hex lines":       {file: "# the operator's key\n\nk1=" + hex.EncodeToString(secret) + "\n", verifies: true},
		"the Secret as YAML": {file: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: incident-operator-audit-key\ndata:\n  k1: " + b64(secret) + "\n", verifies: true},
		"the Secret as JSON": {file: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"k"},"data":{"k1":"` + b64(secret) + `"}}`, verifies: true},
		"stringData":         {file: "kind: Secret\nstringData:\n  k1: " + string(secret) + "\n", verifies: true},
		"another key":        {file: "k1=" + hex.EncodeToString(other), verifies: false},
		"not hex":            {file: "k1=zz", wantErr: "line 1: the secret of key \"k1\" is not hex"},
		"no equals sign":     {file: "# c\nk1 " + hex.EncodeToString(secret), wantErr: "line 2: write id=hexsecret"},
		"too short":          {file: "k1=00ff", wantErr: "it must be at least 32"},
		"empty":              {file: "\n# nothing\n", wantErr: "holds no keys"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ring, err := KeyRing([]byte(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			result, err := audit.Verify("council", subject, entries, audit.VerifyOptions{Keys: ring})
			if got := err == nil; got != tc.verifies || !result.SignaturesChecked {
				t.Errorf("verifies = %v (err %v, signatures checked %v), want %v", got, err, result.SignaturesChecked, tc.verifies)
			}
		})
	}
}
