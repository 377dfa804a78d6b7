package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
)

// hostile is text anyone who can report an incident, write a note or
// answer a webhook could send: a terminal hyperlink whose text hides where
// it leads (OSC 8, ended by BEL) and a bidi override that shows what
// follows it backwards.
const hostile = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil"

// shown is hostile as every table and sentence prints it.
const shown = `\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil`

// more are the other kinds of control character, put in descriptions.
const more = "\x00 \u009b31m \x7f\nsecond line"

// raw are characters no output may hold as they are.
var raw = []string{"\x1b", "\x07", "\x00", "\u009b", "\x7f", "\u202e"}

var (
	controlNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	auditKey   = audit.Key{ID: "k1", Secret: []byte("secret")}
)

// hostileCluster is a namespace whose incident, policy, evidence, audit
// trails and report hold hostile text wherever people or receivers write.
func hostileCluster() []client.Object {
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(controlNow.Add(d)); return &t }
	someone := &securityv1alpha1.Attestation{Username: hostile}

	inc := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "phish", UID: "uid-phish", CreationTimestamp: *at(-time.Hour)}}
	inc.Spec = securityv1alpha1.IncidentSpec{
		Title: hostile, Description: hostile + more, Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh,
		Reporter:   securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: hostile}, Department: hostile},
		ReportedBy: someone,
	}
	subject := subjectOf(inc)
	chain := audit.NewChain("finance", subject, nil)
	entries := []securityv1alpha1.AuditEntry{
		chain.Append(auditKey, controlNow.Add(-time.Hour), securityv1alpha1.AuditActor{Username: hostile}, securityv1alpha1.AuditReported, map[string]string{"title": hostile, "note": "\u202enospace"}),
		chain.Append(auditKey, controlNow.Add(-59*time.Minute), securityv1alpha1.AuditActor{Operator: true}, securityv1alpha1.AuditNotified, map[string]string{"receiver": hostile}),
	}
	inc.Status = securityv1alpha1.IncidentStatus{
		Phase:    securityv1alpha1.PhaseOpen,
		Policies: []securityv1alpha1.PolicyReference{{Kind: securityv1alpha1.KindEscalationPolicy, Name: "desk", Generation: 1, NextEscalationAt: at(30 * time.Minute)}},
		Notifications: []securityv1alpha1.NotificationRecord{{
			DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
				Key:           "a",
				Receiver:      "desk",
				Channel:       "webhook",
				State:         securityv1alpha1.DeliveryFailed,
				Attempts:      2,
				LastAttemptAt: at(-30 * time.Minute),
				LastError:     hostile,
			},
			Policy: "desk",
		}},
		Conditions: []metav1.Condition{{Type: securityv1alpha1.ConditionRouted, Status: metav1.ConditionTrue, Reason: "Matched", Message: hostile, LastTransitionTime: *at(-59 * time.Minute)}},
		Audit:      &securityv1alpha1.AuditStatus{Head: chain.Head()},
	}
	trail := &securityv1alpha1.AuditTrail{
		ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: audit.ObjectName(subject, 0)},
		Spec:       securityv1alpha1.AuditTrailSpec{Subject: subject, Entries: entries},
	}
	// A trail forged for an incident that never was, under a name that
	// would rewrite the verdict on the screen.
	forgedSubject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: hostile, UID: "uid-forged"}
	forged := &securityv1alpha1.AuditTrail{
		ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "forged"},
		Spec: securityv1alpha1.AuditTrailSpec{Subject: forgedSubject, Entries: []securityv1alpha1.AuditEntry{
			audit.NewChain("finance", forgedSubject, nil).Append(auditKey, controlNow, securityv1alpha1.AuditActor{Username: hostile}, securityv1alpha1.AuditReported, nil),
		}},
	}

	held := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "held", UID: "uid-held", CreationTimestamp: *at(-2 * time.Hour)}}
	held.Spec = securityv1alpha1.IncidentSpec{
		Title: "two\nlines " + hostile, Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh,
		LegalHold: &securityv1alpha1.LegalHold{Reason: hostile, PlacedBy: someone},
	}
	// Major, so that the summary names it.
	held.Status.Conditions = []metav1.Condition{{Type: securityv1alpha1.ConditionMajor, Status: metav1.ConditionTrue, Reason: "Severity", LastTransitionTime: *at(-2 * time.Hour)}}

	policy := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "desk", Generation: 1}}
	policy.Spec.Escalation.Levels = []securityv1alpha1.EscalationLevel{
		{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "desk"}}},
		{Notify: []securityv1alpha1.NotifyTarget{{Receiver: hostile}}},
	}

	ev := &securityv1alpha1.Evidence{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "phish-device-1"}}
	ev.Spec = securityv1alpha1.EvidenceSpec{
		Incident: "phish", Kind: securityv1alpha1.EvidenceDevice, Description: hostile + more, StorageLocation: hostile,
		SHA256: digest("the copy"), CollectedAt: *at(-50 * time.Minute), CollectedBy: someone,
		Custody: []securityv1alpha1.CustodyTransfer{{Sequence: 0, From: hostile, To: hostile, Reason: hostile, At: *at(-40 * time.Minute)}},
	}
	ev.Status.Holder = hostile

	rep := &securityv1alpha1.IncidentReport{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "weekly"}}
	rep.Spec.Report = securityv1alpha1.ReportControlDocument
	rep.Status.Runs = []securityv1alpha1.ReportRun{{ID: hostile, From: *at(-7 * 24 * time.Hour), To: *at(0), Incidents: 1, SignedOffBy: someone}}

	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "finance"}}
	_, vkey, err := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if err != nil {
		panic(err)
	}
	published := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "incident-operator-system", Name: logKeyConfigMap},
		Data: map[string]string{logKeyVerifierKey: vkey, logKeyOriginKey: "incident-operator"}}
	return []client.Object{namespace, inc, trail, forged, held, policy, ev, rep, published}
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// runHostile runs kubectl incident args against hostileCluster held by a
// fake client, and returns what it printed, its error printed as main
// prints it.
func runHostile(t *testing.T, funcs interceptor.Funcs, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	o := newOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	o.now = func() time.Time { return controlNow }
	o.client = fake.NewClientBuilder().WithScheme(scheme).WithObjects(hostileCluster()...).WithInterceptorFuncs(funcs).Build()
	root := newRootCommand(o)
	flags := []string{"-n", "finance", "--kubeconfig", kubeconfig}
	if args[0] == cobraComplete {
		// What follows is the command line being completed, whose last
		// word is the one to complete.
		root.SetArgs(append(append([]string{cobraComplete}, flags...), args[1:]...))
	} else {
		root.SetArgs(append(args, flags...))
	}
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err = root.Execute(); err != nil {
		printError(&errOut, err)
	}
	return out.String(), errOut.String(), err
}

// routedOnCreate has the incident being reported routed at once, by a
// policy and to a receiver with hostile names, whose delivery failed with
// a hostile error.
var routedOnCreate = interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
	if inc, ok := obj.(*securityv1alpha1.Incident); ok {
		inc.Status.Conditions = []metav1.Condition{{Type: securityv1alpha1.ConditionRouted, Status: metav1.ConditionTrue, Reason: "Matched", Message: hostile, LastTransitionTime: metav1.NewTime(controlNow)}}
		inc.Status.Policies = []securityv1alpha1.PolicyReference{{Name: hostile, Generation: 1}}
		inc.Status.Notifications = []securityv1alpha1.NotificationRecord{{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "a", Receiver: hostile, Channel: "webhook", State: securityv1alpha1.DeliveryFailed, Attempts: 1, LastError: hostile}, Policy: hostile}}
	}
	return c.Create(ctx, obj, opts...)
}}

// unroutedOnCreate has nothing match the incident being reported, for a
// reason that quotes its title.
var unroutedOnCreate = interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
	if inc, ok := obj.(*securityv1alpha1.Incident); ok {
		inc.Status.Conditions = []metav1.Condition{{Type: securityv1alpha1.ConditionRouted, Status: metav1.ConditionFalse, Reason: "NoMatch", Message: hostile, LastTransitionTime: metav1.NewTime(controlNow)}}
	}
	return c.Create(ctx, obj, opts...)
}}

// Every command that prints what people or receivers wrote shows it as
// text: no ESC, BEL, NUL, C1 control, DEL or bidi override reaches the
// terminal as it is, and the text itself is still there to read.
func TestCommandsPrintControlCharactersAsText(t *testing.T) {
	copyFile := filepath.Join(t.TempDir(), "copy\x1b[2J.img")
	if err := os.WriteFile(copyFile, []byte("the copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	outputFile := filepath.Join(t.TempDir(), "control.csv")
	tests := map[string]struct {
		args  []string
		funcs interceptor.Funcs
		// shows is what the command must print (or write to file), as
		// text.
		shows []string
		fails bool
		// bidi is left raw: the YAML encoder writes format characters as
		// they are, and an escape would change a plain scalar's text.
		bidi bool
		// file is a file the command writes, which must be clean too.
		file string
	}{
		"list":                      {args: []string{"list"}, shows: []string{shown}},
		"list -A":                   {args: []string{"list", "-A"}, shows: []string{shown}},
		"list -o json":              {args: []string{"list", "-o", "json"}, shows: []string{`\u001b]8;;http://evil\u0007click`, `\u202eevil`, `\u009b31m \u007f\nsecond line`}},
		"list -o yaml":              {args: []string{"list", "-o", "yaml"}, shows: []string{`\e]8;;http://evil\aclick`}, bidi: true},
		"why":                       {args: []string{"why", "phish"}, shows: []string{`"` + shown + `"`, "after 2 attempts: " + shown, "level 1 tells " + shown}},
		"timeline":                  {args: []string{"timeline", "phish", "--tz", "UTC"}, shows: []string{shown, `note=\u202enospace title="` + shown + `"`, "Matched: " + shown}},
		"timeline -o json":          {args: []string{"timeline", "phish", "-o", "json"}, shows: []string{`\u202enospace`}},
		"timeline -o yaml":          {args: []string{"timeline", "phish", "-o", "yaml"}, bidi: true},
		"audit verify --all":        {args: []string{"audit", "verify", "--all"}, fails: true, shows: []string{"finance/" + shown + " (uid uid-forg, incident deleted): BROKEN"}},
		"evidence list":             {args: []string{"evidence", "list", "phish"}, shows: []string{shown + `\x00 \u009b31m \x7f\nsecond line`}},
		"evidence add":              {args: []string{"evidence", "add", "phish", "--kind", "Device", "--description", hostile, "--storage-location", hostile + more}, shows: []string{`Device "` + shown + `", kept at ` + shown + `\x00`}},
		"evidence transfer":         {args: []string{"evidence", "transfer", "phish-device-1", "--to", hostile, "--reason", hostile}, shows: []string{"from " + shown + " to " + shown}},
		"evidence verify":           {args: []string{"evidence", "verify", "phish-device-1", "--file", copyFile}, shows: []string{`copy\x1b[2J.img matches`}},
		"export -o markdown":        {args: []string{"export", "-o", "markdown"}, shows: []string{shown}},
		"export -o csv":             {args: []string{"export", "-o", "csv"}, shows: []string{shown, `\x00 \u009b31m \x7f`}},
		"export --output-file":      {args: []string{"export", "-o", "csv", "--output-file", outputFile}, file: outputFile, shows: []string{shown}},
		"summary -o markdown":       {args: []string{"summary", "--period", "2026-11", "-o", "markdown"}, shows: []string{"two<br>lines " + shown}},
		"review list":               {args: []string{"review", "list", "weekly"}, shows: []string{shown}},
		"report, routed":            {args: []string{"report", "--title", hostile, "--category", "Loss", "--severity", "High", "--reporter-name", hostile, "--name", "new"}, funcs: routedOnCreate, shows: []string{"Policies that matched: " + shown, "after 1 attempts: " + shown}},
		"report, not routed":        {args: []string{"report", "--title", hostile, "--category", "Loss", "--severity", "High", "--reporter-name", hostile, "--name", "new"}, funcs: unroutedOnCreate, shows: []string{"No policy matches it (" + shown + ")"}},
		"ack":                       {args: []string{"ack", "phish", "--by", hostile, "--note", hostile}, shows: []string{"acknowledged by " + shown}},
		"resolve":                   {args: []string{"resolve", "phish", "--state", "Resolved", "--by", hostile, "--summary", hostile}, shows: []string{"by " + shown}},
		"notify-authority":          {args: []string{"notify-authority", "phish", "--reference", hostile, "--at", "2026-11-20T09:30:00Z"}, shows: []string{"reference " + shown}},
		"hold":                      {args: []string{"hold", "phish", "--reason", hostile}, shows: []string{"legal hold (" + shown + ")"}},
		"release":                   {args: []string{"release", "held", "--reason", hostile}, shows: []string{"legal hold (" + shown + ") released (" + shown + ")"}},
		"an error quoting a reason": {args: []string{"hold", "held", "--reason", "x"}, fails: true, shows: []string{"already under legal hold (" + shown + "), placed by account " + shown}},
		"completion of a name":      {args: []string{cobraComplete, "why", ""}, shows: []string{"held\ttwo\\nlines " + shown + "\n", "phish\t" + shown + "\n"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, err := runHostile(t, tc.funcs, tc.args...)
			if (err != nil) != tc.fails {
				t.Fatalf("error %q, want failure %v\nstdout: %q\nstderr: %q", fmt.Sprint(err), tc.fails, stdout, stderr)
			}
			printed := map[string]string{"stdout": stdout, "stderr": stderr}
			within := stdout + stderr
			if tc.file != "" {
				data, err := os.ReadFile(tc.file)
				if err != nil {
					t.Fatal(err)
				}
				printed[tc.file] = string(data)
				within += string(data)
			}
			for where, text := range printed {
				for _, r := range raw {
					if r == "\u202e" && tc.bidi {
						continue
					}
					if strings.Contains(text, r) {
						t.Errorf("%s holds %q as it is:\n%q", where, r, text)
					}
				}
			}
			for _, s := range tc.shows {
				if !strings.Contains(within, s) {
					t.Errorf("output lacks %q:\n%q", s, within)
				}
			}
		})
	}
}

// cobraComplete is the hidden command a shell runs to complete arguments.
const cobraComplete = "__complete"

// The structured outputs decode to the text as stored, escapes and all.
func TestStructuredOutputKeepsTheText(t *testing.T) {
	stdout, _, err := runHostile(t, interceptor.Funcs{}, "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list securityv1alpha1.IncidentList
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	for _, inc := range list.Items {
		if inc.Name == "phish" && (inc.Spec.Title != hostile || inc.Spec.Description != hostile+more) {
			t.Errorf("-o json decodes to %q, %q", inc.Spec.Title, inc.Spec.Description)
		}
	}
	stdout, _, err = runHostile(t, interceptor.Funcs{}, "list", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	list = securityv1alpha1.IncidentList{}
	if err := yaml.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	for _, inc := range list.Items {
		if inc.Name == "phish" && (inc.Spec.Title != hostile || inc.Spec.Description != hostile+more) {
			t.Errorf("-o yaml decodes to %q, %q", inc.Spec.Title, inc.Spec.Description)
		}
	}
}
