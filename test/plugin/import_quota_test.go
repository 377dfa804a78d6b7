package plugin

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// An import a ResourceQuota would stop part way creates nothing, and says
// which quota: the API server's dry run judges one create at a time, and
// accepts each row while the quota has room for one more. A user who may
// not read the quotas is warned; when the quota then stops the import, it
// says what was created and what was not, and a second run imports the
// rest.
func TestImportWithinQuota(t *testing.T) {
	const ns = "imports-quota"
	const count = "count/incidents.security.incidentops.io"
	// The import needs no policies: a namespace, and a user who may
	// create incidents but not read quotas.
	mustKubectl(t, "create", "namespace", ns)
	mustKubectl(t, "-n", ns, "create", "rolebinding", "pat-incident-policy-admin", "--clusterrole=incident-policy-admin", "--user="+policyAdmin)
	// No quota controller runs against this API server: the quota's
	// status is written as the controller writes it, and from there the
	// API server's quota admission counts every create.
	setQuota := func(hard int) {
		t.Helper()
		mustKubectl(t, "-n", ns, "patch", "resourcequota", "incidents", "--type=merge", "-p", fmt.Sprintf(`{"spec":{"hard":{%q:"%d"}}}`, count, hard))
		mustKubectl(t, "-n", ns, "patch", "resourcequota", "incidents", "--subresource=status", "--type=merge", "-p", fmt.Sprintf(`{"status":{"hard":{%q:"%d"}}}`, count, hard))
	}
	mustKubectl(t, "-n", ns, "create", "quota", "incidents", "--hard="+count+"=4")
	mustKubectl(t, "-n", ns, "patch", "resourcequota", "incidents", "--subresource=status", "--type=merge", "-p", fmt.Sprintf(`{"status":{"hard":{%q:"4"},"used":{%q:"0"}}}`, count, count))
	succeeds(t, "", "report", "-n", ns, "--name", "before-import", "--title", "Phishing mail", "--category", "Phishing", "--severity", "Low")
	used := func() string {
		t.Helper()
		var q corev1.ResourceQuota
		if err := json.Unmarshal([]byte(mustKubectl(t, "-n", ns, "get", "resourcequota", "incidents", "-o", "json")), &q); err != nil {
			t.Fatal(err)
		}
		n := q.Status.Used[count]
		return n.String()
	}
	if u := used(); u != "1" {
		t.Fatalf("the quota counts %q incidents after one report, want 1", u)
	}
	incidents := func() int { return len(strings.Fields(jsonpath(t, ns, "incidents", ".items[*].metadata.name"))) }

	base := time.Now().UTC().AddDate(0, 0, -10).Truncate(time.Minute)
	rows := [][]any{{"Reported at", "Title", "Category", "Severity", "Reporter"}}
	for i := range 6 {
		rows = append(rows, []any{base.Add(time.Duration(i) * time.Hour).Format("2006-01-02 15:04"), fmt.Sprintf("Laptop %d left in a taxi", i+1), "Loss", "Low", "Priya Shah"})
	}
	file := filepath.Join(t.TempDir(), "six.xlsx")
	writeWorkbook(t, file, rows)

	over := "ResourceQuota imports-quota/incidents (count/incidents.security.incidentops.io: 1 used of 4) has room for 3 more incident(s), not the 6 to import there"
	r := fails(t, "", []string{"import", file, "-n", ns, "--tz", "UTC"}, over+", so nothing was imported: raise the quota, or import fewer rows at a time")
	if n := incidents(); n != 1 {
		t.Fatalf("an import over quota left %d incidents, want the 1 reported before:\n%s", n, r)
	}
	if strings.Contains(r.stdout, "created: ") {
		t.Errorf("an import over quota says it created some:\n%s", r)
	}

	// Each row on its own passes the API server's dry run, quota and all:
	// only counting them together finds that the fourth would be refused.
	r = fails(t, "", []string{"import", file, "-n", ns, "--tz", "UTC", "--dry-run"},
		"dry run: 0 row(s) wrong and 0 refused by the API server, but "+over+"; nothing was created")
	if n := strings.Count(r.stdout, "would create: row "); n != 6 || strings.Contains(r.stdout, "refused: ") {
		t.Errorf("the dry run accepts %d rows, want each of the 6:\n%s", n, r)
	}

	// Without leave to read the quotas, the import is warned, and the
	// quota stops it at the fourth incident, as every import stopped
	// before the quotas were counted. It says so, row by row.
	r = fails(t, policyAdmin, []string{"import", file, "-n", ns, "--tz", "UTC"},
		"warning: cannot list the ResourceQuotas of namespace imports-quota, so cannot tell whether one leaves room for the 6 incident(s) to import",
		"exceeded quota: incidents",
		"the import stopped there: 3 of the 6 incident(s) to import were created (listed above as created) and 3 were not (listed as not created): run the import again once it is corrected, and it skips those created and imports the rest")
	created := regexp.MustCompile(`(?m)^created: row `)
	if c, n := len(created.FindAllString(r.stdout, -1)), strings.Count(r.stdout, "not created: row "); c != 3 || n != 3 {
		t.Errorf("the stopped import lists %d created and %d not created, want 3 and 3:\n%s", c, n, r)
	}
	if n := incidents(); n != 4 {
		t.Fatalf("%d incidents after an import stopped by the quota, want 4", n)
	}

	// With room for the rest, a second run creates them and skips the
	// first three.
	setQuota(7)
	out := succeeds(t, "", "import", file, "-n", ns, "--tz", "UTC")
	if !strings.Contains(out, "imported 3 incident(s); 3 already imported; 0 row(s) not imported") || strings.Count(out, "already imported: row ") != 3 {
		t.Errorf("the second import:\n%s", out)
	}
	if n, u := incidents(), used(); n != 7 || u != "7" {
		t.Errorf("%d incidents and the quota counts %s after the second import, want 7 and 7", n, u)
	}
}
