package plugin

import (
	"slices"
	"strings"
	"testing"
)

// list shows the deadline that matters next, most urgent first, and each
// filter keeps exactly the incidents it names.
func TestListFiltersAndOrder(t *testing.T) {
	const ns = "triage"
	newNamespace(t, ns)
	report := func(name string, args ...string) {
		t.Helper()
		succeeds(t, reporter, append([]string{"report", "-n", ns, "--name", name, "--title", name, "--line-manager", "Tom:tom@example.org"}, args...)...)
	}
	// Missed its 2s acknowledgement target (malware-fast).
	report("malware-pc", "--category", "Malware", "--severity", "Low")
	// Major (Critical); the service desk's SLA: at risk from the start,
	// next escalation in 30m. Reported first, so its escalation is due no
	// later than desk-outage's, and being more severe it goes first even
	// when both fall in the same second.
	report("server-down", "--category", "SystemMalfunction", "--severity", "Critical", "--it-related", "--service-affecting")
	report("desk-outage", "--category", "SystemMalfunction", "--severity", "High", "--it-related")
	// A personal data breach not yet reported to the authority.
	report("lost-phone", "--category", "Loss", "--severity", "Medium", "--personal-data")
	// Resolved.
	report("old-note", "--category", "PasswordExposure", "--severity", "Low")
	succeeds(t, responder, "resolve", "old-note", "-n", ns, "--state", "Resolved", "--summary", "Note shredded")
	mustKubectl(t, "-n", ns, "wait", "--for=condition=SLABreached", "--timeout=30s", "incident/malware-pc")
	mustKubectl(t, "-n", ns, "wait", "--for=jsonpath={.status.phase}=Resolved", "--timeout=30s", "incident/old-note")

	out := succeeds(t, viewer, "list", "-n", ns)
	rows := listRows(t, out)
	got := names(rows)
	if want := []string{"malware-pc", "server-down", "desk-outage", "lost-phone", "old-note"}; !slices.Equal(got, want) {
		t.Errorf("list order %v, want %v (most urgent first):\n%s", got, want, out)
	}
	row := byName(rows)
	check := map[string]struct {
		deadline string
		due      []string
	}{
		"malware-pc":  {"acknowledge-by", []string{"BREACHED "}},
		"desk-outage": {"next-escalation (service-desk)", []string{"in 29m", "in 30m"}},
		"lost-phone":  {"authority-by", []string{"in 2d23h", "in 2d22h"}},
		"old-note":    {"-", []string{"-"}},
	}
	for name, want := range check {
		r := row[name]
		if r == nil {
			t.Errorf("no row for %s:\n%s", name, out)
			continue
		}
		if r["NEXT DEADLINE"] != want.deadline || !slices.ContainsFunc(want.due, func(p string) bool { return strings.HasPrefix(r["DUE"], p) }) {
			t.Errorf("%s: next deadline %q due %q, want %q due %v", name, r["NEXT DEADLINE"], r["DUE"], want.deadline, want.due)
		}
	}
	if row["old-note"]["PHASE"] != "Resolved" || row["malware-pc"]["SEVERITY"] != "Low" || row["lost-phone"]["CATEGORY"] != "Loss" || row["server-down"]["TITLE"] != "server-down" {
		t.Errorf("columns wrong:\n%s", out)
	}

	for flag, want := range map[string][]string{
		"--open":               {"malware-pc", "desk-outage", "server-down", "lost-phone"},
		"--breached":           {"malware-pc"},
		"--at-risk":            {"desk-outage", "server-down"},
		"--major":              {"server-down"},
		"--awaiting-authority": {"lost-phone"},
		"--major --breached":   nil,
	} {
		out := succeeds(t, viewer, append([]string{"list", "-n", ns}, strings.Fields(flag)...)...)
		got := names(listRows(t, out))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("list %s = %v, want %v:\n%s", flag, got, want, out)
		}
	}

	// -A adds the namespace and reaches every namespace the user may read;
	// other tests' breaches may be listed too, in their order.
	out = succeeds(t, "", "list", "-A", "--breached")
	var here []map[string]string
	for _, r := range listRows(t, out) {
		if r["NAMESPACE"] == ns {
			here = append(here, r)
		}
	}
	if len(here) != 1 || here[0]["NAME"] != "malware-pc" {
		t.Errorf("list -A --breached: want triage/malware-pc, the namespace's one breach:\n%s", out)
	}
}

// listColumns are list's columns in order.
var listColumns = []string{"NAMESPACE", "NAME", "SEVERITY", "CATEGORY", "PHASE", "LEVEL", "NEXT DEADLINE", "DUE", "TITLE"}

// listRows reads list's table in order, each row a map from column to
// value. Columns are cut where their headers start, since titles and
// deadlines hold spaces. A list with no rows reads as none.
func listRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	if strings.HasPrefix(out, "No incidents") {
		return nil
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	var starts []int
	var present []string
	pos := 0
	for _, c := range listColumns {
		i := strings.Index(header[pos:], c)
		if i < 0 || (c == "NAMESPACE" && i != 0) {
			continue
		}
		starts = append(starts, pos+i)
		present = append(present, c)
		pos += i + len(c)
	}
	if len(present) < 8 {
		t.Fatalf("list's header lacks columns: %q", header)
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		row := map[string]string{}
		for i, c := range present {
			end := len(l)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(l))
			}
			if starts[i] < end {
				row[c] = strings.TrimSpace(l[starts[i]:end])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func names(rows []map[string]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["NAME"])
	}
	return out
}

func byName(rows []map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range rows {
		out[r["NAME"]] = r
	}
	return out
}
