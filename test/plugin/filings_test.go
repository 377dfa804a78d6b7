package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/plugin/filing"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// Approvers, bound in the test's namespace to incident-filing-approver:
// the second people a regulator filing needs.
const (
	approverAda = "ada"
	approverAbe = "abe"
)

// regime is the shipped UK GDPR regime installed under a name of the
// test's own: regimes are cluster-scoped, and only this namespace's policy
// names it, so no other test's incidents gain obligations.
const regime = "uk-gdpr-plugin"

// A personal data breach under UK GDPR, recorded through kubectl incident
// as people do it: the operator opens the Filings, a responder drafts the
// report to the authority, two approvers agree at the same moment and both
// agreements are kept, the responder files it and records the authority's
// acknowledgement and letter, and decides the data subjects need not be
// told, which an approver agrees to. Each step names the account the API
// server attested; every shortcut is refused with the server's words.
func TestRegulatorFilingAsDistinctUsers(t *testing.T) {
	const ns = "filings"
	newNamespace(t, ns)
	installRegime(t)
	applyYAML(t, ns, `
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: regulated}
spec:
  priority: 200
  continue: true
  match: {impact: {personalData: true}}
  regimes: [`+regime+`]
  receivers: [{name: internal-audit, webhook: {urlSecretRef: {name: hooks, key: internal-audit}}}]
  escalation: {levels: [{notify: [{receiver: internal-audit}]}]}
`)
	mustKubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=60s", "escalationpolicy/regulated")
	for _, user := range []string{approverAda, approverAbe} {
		mustKubectl(t, "-n", ns, "create", "rolebinding", user+"-approver", "--clusterrole=incident-filing-approver", "--user="+user)
	}

	aware := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	succeeds(t, reporter, "report", "-n", ns, "--name", "leak", "--title", "Payroll export mailed to the wrong firm",
		"--category", "UnauthorisedDisclosure", "--severity", "High", "--personal-data", "--aware-at", aware.Format(time.RFC3339), "--wait=false")
	notification := regime + "/notification"
	eventually(t, 30*time.Second, func() error {
		r := incident(viewer, "obligations", "leak", "-n", ns)
		if r.err != nil || !strings.Contains(r.stdout, "3 obligations under "+regime) || strings.Contains(r.stdout, "not opened by the operator yet") {
			return fmt.Errorf("the operator has not opened every Filing:\n%s", r)
		}
		return nil
	})

	out := succeeds(t, viewer, "obligations", "leak", "-n", ns)
	due := aware.Add(72 * time.Hour).Format(time.RFC3339)
	for _, want := range []string{
		"next: " + notification + ", due " + due,
		"\n" + notification + ": UK GDPR Art. 33(1), to SupervisoryAuthority\n",
		"  state:      ToDecide\n",
		"  deadline:   " + due + " (in 2d21h",
		"  missed:     no\n",
		"  filing:     leak." + regime + ".notification\n",
		"  agreements: 0 of 1\n",
		"\n" + regime + "/data-subjects: UK GDPR Art. 34(1), to DataSubjects\n",
		"  deadline:   without undue delay (the rules give no fixed time)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("obligations lacks %q:\n%s", want, out)
		}
	}

	// One person's word no longer records the report to the authority.
	fails(t, responder, []string{"notify-authority", "leak", "-n", ns, "--reference", "ICO-1"},
		"one person may no longer record it with notify-authority",
		"kubectl incident draft leak --regime "+regime+" --stage notification --content FIELD=TEXT",
		"kubectl incident agree leak --regime "+regime+" --stage notification",
		"kubectl incident file leak --regime "+regime+" --stage notification --reference REF")
	fails(t, responder, []string{"decide", "leak", "-n", ns, "--required"},
		"incident leak has 3 open obligations under "+regime+": give --stage")

	// A draft that lacks what Art. 33(3) asks for is refused before it is
	// sent; the whole draft is recorded as rita's.
	fails(t, responder, []string{"draft", "leak", "-n", ns, "--stage", "notification", "--content", "nature=Payroll export mailed out"},
		"the draft of "+notification+" (UK GDPR Art. 33(1)) lacks dataSubjectCategories, dataSubjectCount, recordCategories, recordCount, contact, consequences, measures")
	content := filepath.Join(t.TempDir(), "notification.yaml")
	writeFile(t, content, `nature: A payroll export was e-mailed to the wrong payroll firm.
dataSubjectCategories: Staff
dataSubjectCount: 1200
recordCategories: Names, salaries, bank details
recordCount: 1200
consequences: Possible fraud against staff bank accounts.
measures: The firm deleted the file and confirmed it in writing.
`)
	out = succeeds(t, responder, "draft", "leak", "-n", ns, "--regime", regime, "--stage", "notification",
		"--content-file", content, "--content", "contact=Data Protection Officer, dpo@example.org")
	if want := "filing/leak." + regime + ".notification: " + notification + " drafted with 8 fields (consequences, contact, dataSubjectCategories, dataSubjectCount, measures, nature, recordCategories, recordCount); drafted by account rita\n"; out != want {
		t.Errorf("draft printed\n%q, want\n%q", out, want)
	}
	fails(t, responder, []string{"draft", "leak", "-n", ns, "--stage", "notification", "--content-file", content, "--content", "contact=c"},
		"is already drafted by account rita")

	// The server's two-person rule, in its own words.
	fails(t, responder, []string{"agree", "leak", "-n", ns, "--stage", "notification"},
		"Error from server (Forbidden)", "rita drafted "+notification+" (UK GDPR Art. 33(1)) and may not agree to it: a second person must")
	fails(t, responder, []string{"file", "leak", "-n", ns, "--stage", "notification", "--reference", "ICO-1"},
		"Error from server (Forbidden)", "needs 1 agreement by someone other than its drafter before it is filed; it has 0")

	// Two approvers agree at the same moment: both agreements are kept,
	// each numbered once, each by its own account.
	var wg sync.WaitGroup
	results := map[string]*result{approverAda: {}, approverAbe: {}}
	for user, r := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*r = incident(user, "agree", "leak", "-n", ns, "--stage", "notification", "--note", "checked by "+user)
		}()
	}
	wg.Wait()
	for user, r := range results {
		if r.err != nil || !strings.Contains(r.stdout, "; agreed by account "+user+"\n") {
			t.Errorf("%s agreeing at the same moment as another:\n%s", user, r)
		}
	}
	filingName := "filing/leak." + regime + ".notification"
	if got := jsonpath(t, ns, filingName, ".spec.agreements[*].sequence"); got != "0 1" {
		t.Errorf("agreement sequences %q, want 0 1", got)
	}
	if got := strings.Fields(jsonpath(t, ns, filingName, ".spec.agreements[*].by.username")); !slices.Equal(sortedCopy(got), []string{approverAbe, approverAda}) {
		t.Errorf("agreements by %v, want abe and ada", got)
	}
	fails(t, approverAda, []string{"agree", "leak", "-n", ns, "--stage", "notification"},
		"Error from server (Forbidden)", "ada has already agreed to "+notification)

	out = succeeds(t, responder, "file", "leak", "-n", ns, "--stage", "notification", "--reference", "ICO-2026-0042")
	if !strings.HasPrefix(out, "filing/leak."+regime+".notification: "+notification+" filed with SupervisoryAuthority at ") ||
		!strings.HasSuffix(out, ", reference ICO-2026-0042; recorded by account rita\n") {
		t.Errorf("file printed %q", out)
	}
	fails(t, responder, []string{"file", "leak", "-n", ns, "--stage", "notification", "--reference", "ICO-other"}, "is already filed by account rita")
	out = succeeds(t, responder, "acknowledge-filing", "leak", "-n", ns, "--stage", "notification", "--case-number", "C-77", "--at", "now")
	if !strings.HasSuffix(out, ", case number C-77; recorded by account rita\n") {
		t.Errorf("acknowledge-filing printed %q", out)
	}
	letter := filepath.Join(t.TempDir(), "ico-letter.pdf")
	writeFile(t, letter, "The ICO asks how many bank details were in the file.\n")
	sum := sha256.Sum256([]byte("The ICO asks how many bank details were in the file.\n"))
	out = succeeds(t, responder, "correspond", "leak", "-n", ns, "--stage", "notification", "--direction", "received",
		"--summary", "The ICO asks for the number of bank details", "--attachment", letter)
	if !strings.Contains(out, "letter 0, Received at ") || !strings.HasSuffix(out, ", attachment SHA-256 "+hex.EncodeToString(sum[:])+"; recorded by account rita\n") {
		t.Errorf("correspond printed %q", out)
	}

	// Art. 34: the data subjects need not be told, decided with an
	// exemption, and agreed by an approver other than the decider.
	out = succeeds(t, responder, "decide", "leak", "-n", ns, "--stage", "data-subjects", "--not-required",
		"--exemption", "risknolongerlikely", "--rationale", "The firm deleted the file unread.")
	if want := "filing/leak." + regime + ".data-subjects: " + regime + "/data-subjects decided NotRequired, exempt as RiskNoLongerLikely (The firm deleted the file unread.); decided by account rita\n"; out != want {
		t.Errorf("decide printed\n%q, want\n%q", out, want)
	}
	succeeds(t, approverAda, "agree", "leak", "-n", ns, "--stage", "data-subjects")

	// The operator's obligations follow the Filings.
	eventually(t, 30*time.Second, func() error {
		var entries []filing.Entry
		r := incident(viewer, "obligations", "leak", "-n", ns, "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &entries); r.err != nil || err != nil {
			return fmt.Errorf("obligations -o json: %v\n%s", err, r)
		}
		states := map[string]string{}
		for _, e := range entries {
			states[e.Obligation.Stage] = string(e.Obligation.State)
		}
		if states["notification"] != "Acknowledged" || states["data-subjects"] != "NotRequired" {
			return fmt.Errorf("obligations %v, want notification Acknowledged and data-subjects NotRequired", states)
		}
		return nil
	})
	out = succeeds(t, viewer, "obligations", "leak", "-n", ns)
	for _, want := range []string{
		"  state:          Acknowledged\n",
		"  deadline:       " + due + " (fixed when it was filed)\n",
		"  drafted:        8 fields (consequences, contact, dataSubjectCategories, dataSubjectCount, measures, nature, recordCategories, recordCount); by rita\n",
		"  filed:          ",
		", reference ICO-2026-0042; by rita\n",
		", case number C-77; by rita\n",
		"  correspondence: 1, the last Received at ",
		"  decided:    NotRequired, exempt as RiskNoLongerLikely: The firm deleted the file unread.; by rita\n",
		"  agreements: 1 of 1; ada\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("obligations lacks %q:\n%s", want, out)
		}
	}
	for _, user := range []string{approverAda, approverAbe} {
		if !strings.Contains(out, "; "+user+" (checked by "+user+")") {
			t.Errorf("obligations does not name %s's agreement:\n%s", user, out)
		}
	}

	// The stages complete from the incident's obligations.
	stdout, _, err := execute(kubectlBinary(), "", "__complete", "incident", "agree", "leak", "-n", ns, "--stage", "")
	var stages []string
	for _, line := range strings.Split(stdout, "\n") {
		if name, _, ok := strings.Cut(line, "\t"); ok {
			stages = append(stages, name)
		}
	}
	if err != nil || !slices.Equal(stages, []string{"notification", "further-information", "data-subjects"}) {
		t.Errorf("--stage completes to %q (%v)", stages, err)
	}
}

// installRegime installs config/regimes/uk-gdpr.yaml as regime until the
// test ends.
func installRegime(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "regimes", "uk-gdpr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	shipped := strings.Replace(string(data), "\n  name: uk-gdpr\n", "\n  name: "+regime+"\n", 1)
	if shipped == string(data) {
		t.Fatal("config/regimes/uk-gdpr.yaml does not name the regime uk-gdpr")
	}
	stdout, stderr, err := execute(kubectlBinary(), shipped, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("installing the regime: %v\n%s%s", err, stdout, stderr)
	}
	t.Cleanup(func() { _, _ = kubectl("delete", "regulatoryregime", regime, "--wait=false") })
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
