package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/report"
)

type reportOptions struct {
	*options
	title, category, severity, typ, description string
	reporterName, reporterEmail, department     string
	lineManager                                 string
	assets                                      []string
	impact                                      securityv1alpha1.Impact
	awareAt                                     string
	forensic                                    bool
	name                                        string
	wait                                        bool
	waitTimeout                                 time.Duration
	output                                      string
}

func newReportCommand(o *options) *cobra.Command {
	r := &reportOptions{options: o}
	cmd := &cobra.Command{
		Use:   "report --title TITLE --category CATEGORY --severity SEVERITY [flags]",
		Short: "Report an incident or a weakness, and see who will be told",
		Example: `  kubectl incident report --title "Finance laptop left on a train" --category Loss --severity High \
    --reporter-name "Priya Shah" --line-manager "Tom Okafor:tom.okafor@example.org" \
    --asset laptop-fin-0142 --personal-data --it-related`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return r.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&r.title, "title", "", "one-line summary (required)")
	f.StringVar(&r.category, "category", "", "what happened: "+list(report.Categories))
	f.StringVar(&r.severity, "severity", "", "how bad it is: "+list(report.Severities))
	f.StringVar(&r.typ, "type", string(securityv1alpha1.TypeIncident), "Incident (it happened) or Weakness (it could happen)")
	f.StringVar(&r.description, "description", "", "what happened, with symptoms and any error messages")
	f.StringVar(&r.reporterName, "reporter-name", "", "who reports it (default: your account name)")
	f.StringVar(&r.reporterEmail, "reporter-email", "", "the reporter's e-mail address")
	f.StringVar(&r.department, "department", "", "the reporter's department")
	f.StringVar(&r.lineManager, "line-manager", "", "the reporter's line manager, NAME or NAME:EMAIL, who is told first")
	f.StringArrayVar(&r.assets, "asset", nil, "name of an Asset affected (repeat for more)")
	f.BoolVar(&r.impact.PersonalData, "personal-data", false, "personal data of staff, service users or the public is involved")
	f.BoolVar(&r.impact.SpecialCategoryData, "special-category-data", false, "special-category personal data (health, ethnicity, beliefs) is involved")
	f.BoolVar(&r.impact.SocialCare, "social-care", false, "the data relates to social-care service users")
	f.BoolVar(&r.impact.ITRelated, "it-related", false, "the IT service desk must hear of it")
	f.BoolVar(&r.impact.ServiceAffecting, "service-affecting", false, "a service is disrupted")
	f.BoolVar(&r.impact.BusinessCritical, "business-critical", false, "a business-critical system is affected")
	f.BoolVar(&r.impact.SecurityBreach, "security-breach", false, "it is a breach of security")
	f.StringVar(&r.awareAt, "aware-at", "", "when the organisation became aware, if before now (2026-11-20 09:30, in your time zone, or RFC 3339)")
	f.BoolVar(&r.forensic, "forensic", false, "evidence must be collected under forensic rules")
	f.StringVar(&r.name, "name", "", "the incident's name (default: made from the title)")
	f.BoolVar(&r.wait, "wait", true, "wait for the operator to route the incident and print who is told")
	f.DurationVar(&r.waitTimeout, "wait-timeout", 10*time.Second, "how long to wait for the operator")
	addOutput(cmd, &r.output, "the incident")
	_ = cmd.RegisterFlagCompletionFunc("category", fixedCompletion(report.Categories))
	_ = cmd.RegisterFlagCompletionFunc("severity", fixedCompletion(report.Severities))
	_ = cmd.RegisterFlagCompletionFunc("type", fixedCompletion(report.Types))
	return cmd
}

// incident checks the flags and makes the incident to create, before
// anything is asked of the cluster. The reporter's name is left blank when
// --reporter-name is not given: it is then the user's account name.
func (r *reportOptions) incident(namespace string) (*securityv1alpha1.Incident, error) {
	if strings.TrimSpace(r.title) == "" {
		return nil, fmt.Errorf("--title is required: a one-line summary of what happened")
	}
	category, err := input.Enum("category", r.category, report.Categories)
	if err != nil {
		return nil, err
	}
	severity, err := input.Enum("severity", r.severity, report.Severities)
	if err != nil {
		return nil, err
	}
	typ, err := input.Enum("type", r.typ, report.Types)
	if err != nil {
		return nil, err
	}
	if (r.impact.SpecialCategoryData || r.impact.SocialCare) && !r.impact.PersonalData {
		return nil, fmt.Errorf("--special-category-data and --social-care are personal data: add --personal-data")
	}
	inc := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: r.name},
		Spec: securityv1alpha1.IncidentSpec{
			Title:       r.title,
			Description: r.description,
			Type:        typ,
			Category:    category,
			Severity:    severity,
			Reporter: securityv1alpha1.Reporter{
				Contact:    securityv1alpha1.Contact{Name: r.reporterName, Email: r.reporterEmail},
				Department: r.department,
			},
			Assets:                r.assets,
			Impact:                r.impact,
			ForensicInvestigation: r.forensic,
		},
	}
	if inc.Name == "" {
		inc.GenerateName = input.NamePrefix(r.title)
	}
	if r.lineManager != "" {
		manager, err := input.Contact("line-manager", r.lineManager)
		if err != nil {
			return nil, err
		}
		inc.Spec.Reporter.LineManager = &manager
	}
	if r.awareAt != "" {
		t, err := input.Time("aware-at", r.awareAt, time.Local, r.now())
		if err != nil {
			return nil, err
		}
		inc.Spec.AwareAt = &metav1.Time{Time: t}
	}
	return inc, nil
}

func (r *reportOptions) run(ctx context.Context) error {
	if err := checkOutput(r.output); err != nil {
		return err
	}
	c, ns, err := r.connect()
	if err != nil {
		return err
	}
	inc, err := r.incident(ns)
	if err != nil {
		return err
	}
	if inc.Spec.Reporter.Name == "" {
		if inc.Spec.Reporter.Name, err = whoAmI(ctx, c); err != nil {
			return fmt.Errorf("%w: give --reporter-name", err)
		}
	}
	if err := c.Create(ctx, inc); err != nil {
		return fmt.Errorf("reporting the incident: %w", err)
	}
	routed := false
	if r.wait {
		routed = waitForRouting(ctx, c, inc, r.waitTimeout)
	}
	if r.output != "" {
		return printObject(r.options, r.output, inc)
	}
	return writeReported(r.streams.Out, inc, routed, r.waitTimeout)
}

// waitForRouting polls until the operator has routed the incident, or
// found that nothing matches it; inc is updated with what was read last.
func waitForRouting(ctx context.Context, c client.Client, inc *securityv1alpha1.Incident, timeout time.Duration) bool {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(inc), inc); err != nil {
			return false, nil
		}
		return meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionRouted) != nil, nil
	})
	return err == nil
}

func writeReported(w io.Writer, inc *securityv1alpha1.Incident, routed bool, waited time.Duration) error {
	printable.Fprintf(w, "incident/%s reported in namespace %s (%s %s %s), recorded as reported by account %s\n",
		inc.Name, inc.Namespace, inc.Spec.Severity, inc.Spec.Category, inc.Spec.Type, account(inc.Spec.ReportedBy))
	cond := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionRouted)
	switch {
	case !routed || cond == nil:
		printable.Fprintf(w, "The operator has not routed it within %s; `kubectl incident why %s` shows who is told once it has.\n", waited, inc.Name)
		return nil
	case cond.Status != metav1.ConditionTrue:
		printable.Fprintf(w, "No policy matches it (%s): nobody has been told. It is routed as soon as a matching EscalationPolicy exists; `kubectl incident why %s` shows why each policy does not match.\n", cond.Message, inc.Name)
		return nil
	}
	var policies []string
	for _, p := range inc.Status.Policies {
		policies = append(policies, fmt.Sprintf("%s (generation %d)", p.Name, p.Generation))
	}
	printable.Fprintf(w, "Policies that matched: %s\n", strings.Join(policies, ", "))
	var level0 []securityv1alpha1.NotificationRecord
	for _, n := range inc.Status.Notifications {
		// Notices (an SLA at risk, a change of phase) are not the
		// escalation; a major incident's receivers are told at once.
		if n.Level == 0 && (n.Notice == "" || n.Notice == lifecycle.NoticeMajor) {
			level0 = append(level0, n)
		}
	}
	if len(level0) == 0 {
		fmt.Fprintln(w, "Nobody is told at level 0.")
		return nil
	}
	fmt.Fprintln(w, "Told at level 0:")
	return writeNotifications(w, level0, "  ")
}

// writeNotifications is a table of deliveries: who, how, and how it went.
func writeNotifications(w io.Writer, records []securityv1alpha1.NotificationRecord, indent string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printable.Fprintf(tw, "%sPOLICY\tLEVEL\tWHO\tCHANNEL\tNOTICE\tSTATE\n", indent)
	for _, n := range records {
		state := string(n.State)
		switch {
		case n.State == securityv1alpha1.DeliveryDelivered && n.DeliveredAt != nil:
			state += " " + n.DeliveredAt.Format(time.RFC3339)
		case n.LastError != "":
			state += fmt.Sprintf(" after %d attempts: %s", n.Attempts, n.LastError)
		}
		notice := n.Notice
		if notice == "" {
			notice = "-"
		}
		printable.Fprintf(tw, "%s%s\t%d\t%s\t%s\t%s\t%s\n", indent, n.Policy, n.Level, recipient(n), n.Channel, notice, state)
	}
	return tw.Flush()
}

// list is valid values for a flag's help.
func list[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// fixedCompletion completes a flag with the values of an enum.
func fixedCompletion[T ~string](values []T) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		out := make([]cobra.Completion, len(values))
		for i, v := range values {
			out[i] = string(v)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
