package plugin

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/plugin/timeline"
)

// why names each policy's clauses that held and those that did not, who
// was told, and what happens next.
func TestWhyNamesTheMatchingClauses(t *testing.T) {
	const ns = "why"
	newNamespace(t, ns)
	succeeds(t, reporter, "report", "-n", ns, "--name", "laptop", "--title", "Laptop stolen from a car",
		"--category", "Theft", "--severity", "High", "--personal-data", "--it-related", "--line-manager", "Tom Okafor:tom@example.org")

	out := succeeds(t, responder, "why", "laptop", "-n", ns)
	for _, want := range []string{
		`Incident why/laptop: "Laptop stolen from a car"`,
		"High Theft Incident, phase Open, escalation level 0",
		// The policies that routed it, pinned at their generation.
		"  personal-data   1           when routed",
		"  lost-equipment  1           when routed",
		"  service-desk    1           when routed",
		// Each policy judged clause by clause, in routing order.
		"  personal-data (priority 100, continue): matched\n    held      impact.personalData: wants true, the incident has true\n",
		"  lost-equipment (priority 75, continue): matched\n    held      categories: Theft is one of Loss, Theft\n",
		"  malware-fast (priority 60, continue): does not match\n    not held  categories: Theft is not one of Malware\n",
		"  service-desk (priority 50): matched\n    held      severities: High is one of High, Critical\n    held      impact.itRelated: wants true, the incident has true\n",
		"  everyone-else (priority -100): would match, but not reached: service-desk matched first and does not continue\n    no match clauses: matches every incident\n",
		// What happens next.
		"  service-desk: the next level at ",
		"unless acknowledged first: level 1 tells desk, role LineManager",
		"  SLA (service-desk, Calendar hours): acknowledge by ",
		"  authority: report the personal data breach by ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("why lacks %q:\n%s", want, out)
		}
	}
	told := tableRows(t, out[strings.Index(out, "Who was told:"):], "POLICY")
	for _, want := range [][]string{
		{"lost-equipment", "0", "asset-desk", "webhook", "-", "Delivered"},
		{"personal-data", "0", "internal-audit", "webhook", "-", "Delivered"},
		{"personal-data", "0", "LineManager", "<tom@example.org>", "email", "-", "Delivered"},
		{"service-desk", "0", "desk", "webhook", "-", "Delivered"},
	} {
		if !hasRowPrefix(told, want) {
			t.Errorf("who was told lacks %v:\n%s", want, out)
		}
	}

	// Acknowledged: escalation stops, and why says so.
	succeeds(t, responder, "ack", "laptop", "-n", ns)
	out = succeeds(t, responder, "why", "laptop", "-n", ns)
	if !strings.Contains(out, "escalation: stopped, the incident is acknowledged") || !strings.Contains(out, "acknowledge by") || !strings.Contains(out, ": done") {
		t.Errorf("why after ack:\n%s", out)
	}
}

// timeline merges the trail, deliveries and conditions in time order, in
// the zone asked for.
func TestTimelineInOrderAndZone(t *testing.T) {
	const ns = "timeline"
	newNamespace(t, ns)
	succeeds(t, reporter, "report", "-n", ns, "--name", "sticky", "--title", "Password on a sticky note",
		"--category", "PasswordExposure", "--severity", "Low")
	var out string
	waitFor := func(action string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			out = succeeds(t, viewer, "timeline", "sticky", "-n", ns, "--tz", "Europe/London")
			if !strings.Contains(out, " "+action+" ") {
				return fmt.Errorf("no %s entry yet:\n%s", action, out)
			}
			return nil
		})
	}
	waitFor("Notified")
	succeeds(t, responder, "ack", "sticky", "-n", ns, "--note", "Asked them to remove it")
	// Each change seen by the operator before the next is made, so that
	// the trail names each one's author.
	waitFor("Acknowledged")
	succeeds(t, responder, "resolve", "sticky", "-n", ns, "--state", "Resolved", "--summary", "Note shredded, password changed")
	waitFor("Resolved")
	london, _ := time.LoadLocation("Europe/London")
	zone := time.Now().In(london).Format("MST")
	var audit []string
	var last time.Time
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		layout := timeline.TimeLayout
		if f[3] != "audit" {
			layout = "2006-01-02 15:04:05 MST"
		}
		at, err := time.ParseInLocation(layout, strings.Join(f[:3], " "), london)
		if err != nil || f[2] != zone {
			t.Fatalf("line %q: time not in %s (%v)", line, zone, err)
		}
		if f[3] != "audit" {
			// Stored to the second: placed at the second's end.
			at = at.Add(time.Second - time.Nanosecond)
		}
		if at.Before(last) {
			t.Errorf("line %q is before the line above it", line)
		}
		last = at
		if f[3] == "audit" {
			if want := fmt.Sprintf("#%d", len(audit)); f[4] != want {
				t.Errorf("audit entry %s where %s was due: entries out of order:\n%s", f[4], want, out)
			}
			audit = append(audit, f[5]+" "+f[6])
		}
	}
	// What people did, in the order they did it, by their accounts; the
	// operator's routing before its first notification.
	var people []string
	for _, a := range audit {
		if !strings.HasPrefix(a, "operator ") {
			people = append(people, a)
		}
	}
	if want := []string{"rob Reported", "rita Changed", "rita Acknowledged", "rita Changed", "rita Resolved"}; !slices.Equal(people, want) {
		t.Errorf("people's entries %q, want %q:\n%s", people, want, out)
	}
	if routed, notified := slices.Index(audit, "operator Routed"), slices.Index(audit, "operator Notified"); routed < 0 || notified < routed {
		t.Errorf("entries %q: want Routed before the first Notified", audit)
	}
	for _, want := range []string{" delivery ", "Delivered", "to managers by webhook policy=everyone-else level=0", " condition ", "Routed=True"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}

	// Another zone moves every time by the zones' offset.
	ny, _ := time.LoadLocation("America/New_York")
	other := succeeds(t, viewer, "timeline", "sticky", "-n", ns, "--tz", "America/New_York")
	first := func(s string, loc *time.Location) time.Time {
		f := strings.Fields(strings.Split(s, "\n")[1])
		if f[3] != "audit" {
			t.Fatalf("the first event is not the report: %q", f)
		}
		at, err := time.ParseInLocation(timeline.TimeLayout, strings.Join(f[:3], " "), loc)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	if a, b := first(out, london), first(other, ny); !a.Equal(b) {
		t.Errorf("the first event is %v in London and %v in New York: the same instant was expected", a, b)
	}
	fails(t, viewer, []string{"timeline", "sticky", "-n", ns, "--tz", "Mars/Olympus"}, `--tz "Mars/Olympus" is not a time zone`)
}
