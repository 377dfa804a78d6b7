package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/report"
)

type importOptions struct {
	*options
	dryRun, skipInvalid bool
	zone                string
}

func newImportCommand(o *options) *cobra.Command {
	im := &importOptions{options: o}
	cmd := &cobra.Command{
		Use:   "import FILE.xlsx [--dry-run] [--skip-invalid] [-n NAMESPACE]",
		Short: "Bring a control document kept as a spreadsheet in as incidents",
		Long: fmt.Sprintf(`Bring a control document kept as a spreadsheet in as incidents, keeping when
the organisation became aware of each. The first sheet's first row names the
columns, as kubectl incident export writes them.

Nothing is half-imported: every row is checked first, and each row that
cannot be imported is named with the reason. If any row is wrong, nothing is
created unless --skip-invalid is given. The API server is then asked to
accept every row in a dry run (its admission policies too), and each
ResourceQuota that counts incidents, as %[1]s,
must have room for all the rows to create in its namespace; only when both
hold are they created. Reading the quotas takes permission to list
resourcequotas: without it the import warns that such a quota could stop
it part way. A row imported before is found by its name and skipped, so
running the import again is safe, and imports what an interrupted run did
not. --dry-run stops after these checks and creates nothing.

A workbook is a zip archive, which can inflate to far more than its size.
Before inflating anything, the import refuses a file larger than %[2]s,
more than %[3]d parts, parts that would inflate to more than %[4]s
together, a part (a sheet, the shared strings) that would inflate to more
than %[5]s, and a part over %[6]s that would inflate more than %[7]d times
its compressed size. It then refuses a part that inflates to more than its
header declares, and a sheet of more than %[8]d rows of incidents. Split a
larger document and import it in parts.`,
			report.IncidentCount, mib(report.MaxWorkbookBytes), report.MaxParts, mib(report.MaxInflatedBytes), mib(report.MaxPartBytes),
			mib(report.CompressionRatioFrom), report.MaxCompressionRatio, report.MaxImportRows),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return im.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().BoolVar(&im.dryRun, "dry-run", false, "check every row, with the API server too, and create nothing")
	cmd.Flags().BoolVar(&im.skipInvalid, "skip-invalid", false, "import the good rows even when others are wrong")
	cmd.Flags().StringVar(&im.zone, "tz", "", "time zone of the sheet's times, such as Europe/London (default: your local zone)")
	return cmd
}

// pending is one row to create.
type pending struct {
	row int
	inc *securityv1alpha1.Incident
}

func (p pending) String() string {
	return fmt.Sprintf("row %d (%s/%s)", p.row, p.inc.Namespace, p.inc.Name)
}

func (im *importOptions) run(ctx context.Context, file string) error {
	loc, err := location(im.zone)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	result, err := report.Import(f, loc, im.now())
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	out := im.streams.Out
	for _, w := range result.Warnings {
		fmt.Fprintf(im.streams.ErrOut, "warning: %s\n", w)
	}
	bad := map[int]bool{}
	for _, e := range result.Errors {
		bad[e.Row] = true
		fmt.Fprintf(out, "not imported: %s\n", e)
	}
	if len(bad) > 0 && !im.skipInvalid && !im.dryRun {
		return fmt.Errorf("%d row(s) of %s cannot be imported (each is named above), so nothing was imported: correct them, or give --skip-invalid to import the %d good row(s)", len(bad), file, len(result.Incidents))
	}

	c, ns, err := im.connect()
	if err != nil {
		return err
	}
	todo, existing, err := im.notYetImported(ctx, c, ns, result.Incidents)
	if err != nil {
		return err
	}
	for _, p := range existing {
		fmt.Fprintf(out, "already imported: %s exists, skipped\n", p)
	}

	refused := 0
	for _, p := range todo {
		if err := c.Create(ctx, p.inc.DeepCopy(), client.DryRunAll); err != nil {
			refused++
			fmt.Fprintf(out, "refused: %s: %s\n", p, describe(err))
		} else if im.dryRun {
			fmt.Fprintf(out, "would create: %s %q\n", p, p.inc.Spec.Title)
		}
	}
	over, err := im.overQuota(ctx, c, todo)
	if err != nil {
		return err
	}
	switch {
	case im.dryRun && (refused > 0 || (len(bad) > 0 && !im.skipInvalid) || len(over) > 0):
		quotas := ""
		if len(over) > 0 {
			quotas = ", but " + joinQuotas(over)
		}
		return fmt.Errorf("dry run: %d row(s) wrong and %d refused by the API server%s; nothing was created", len(bad), refused, quotas)
	case im.dryRun:
		_, err := fmt.Fprintf(out, "dry run: %d incident(s) would be created, %d already imported, %d row(s) skipped as wrong; nothing was created\n", len(todo), len(existing), len(bad))
		return err
	case refused > 0:
		return fmt.Errorf("the API server refused %d row(s) (each is named above), so nothing was imported", refused)
	case len(over) > 0:
		return fmt.Errorf("%s, so nothing was imported: raise the quota, or import fewer rows at a time", joinQuotas(over))
	}
	return im.create(ctx, c, out, todo, len(existing), len(bad))
}

// notYetImported splits the rows into those to create and those whose
// incident exists already (imported before: names are made from the row).
func (im *importOptions) notYetImported(ctx context.Context, c client.Client, ns string, rows []report.ImportedIncident) (todo, existing []pending, err error) {
	for _, r := range rows {
		inc := r.Incident.DeepCopy()
		if inc.Namespace == "" {
			inc.Namespace = ns
		}
		p := pending{row: r.Row, inc: inc}
		err := c.Get(ctx, client.ObjectKeyFromObject(inc), &securityv1alpha1.Incident{})
		switch {
		case err == nil:
			existing = append(existing, p)
		case apierrors.IsNotFound(err):
			todo = append(todo, p)
		default:
			return nil, nil, fmt.Errorf("%s: looking for an incident imported before: %w", p, err)
		}
	}
	return todo, existing, nil
}

// overQuota are the ResourceQuotas that would refuse some of the rows to
// create, namespace by namespace. The dry run cannot find them: it judges
// one create at a time, against a count that no dry run raises, so it
// judges a namespace with one row to create exactly, and no other.
func (im *importOptions) overQuota(ctx context.Context, c client.Client, todo []pending) ([]report.QuotaShortfall, error) {
	creating := map[string]int{}
	for _, p := range todo {
		creating[p.inc.Namespace]++
	}
	var over []report.QuotaShortfall
	for _, ns := range slices.Sorted(maps.Keys(creating)) {
		// Without a namespace the dry run refused the rows; for one row
		// it judged the quotas as the create will.
		if ns == "" || creating[ns] == 1 {
			continue
		}
		var quotas corev1.ResourceQuotaList
		err := c.List(ctx, &quotas, client.InNamespace(ns))
		switch {
		case apierrors.IsForbidden(err):
			fmt.Fprintf(im.streams.ErrOut, "warning: cannot list the ResourceQuotas of namespace %s, so cannot tell whether one leaves room for the %d incident(s) to import: if one does not, the import stops part way (run it again once there is room, and it imports the rest)\n", ns, creating[ns])
			continue
		case err != nil:
			return nil, fmt.Errorf("listing the ResourceQuotas of namespace %s: %w", ns, err)
		}
		over = append(over, report.QuotaShortfalls(quotas.Items, creating[ns])...)
	}
	return over, nil
}

func joinQuotas(over []report.QuotaShortfall) string {
	s := make([]string, len(over))
	for i, q := range over {
		s[i] = q.String()
	}
	return strings.Join(s, "; ")
}

// mib is n bytes in MiB, for the help.
func mib(n int) string { return fmt.Sprintf("%d MiB", n>>20) }

// create creates the rows in order. After the checks a create can still
// fail (another import, a quota lowered, the connection lost); then it
// says what was created and what was not: a second run skips the first
// by name and creates the rest.
func (im *importOptions) create(ctx context.Context, c client.Client, out io.Writer, todo []pending, existing, bad int) error {
	for i, p := range todo {
		if err := c.Create(ctx, p.inc); err != nil {
			for _, rest := range todo[i:] {
				fmt.Fprintf(out, "not created: %s %q\n", rest, rest.inc.Spec.Title)
			}
			return fmt.Errorf("%s: %s; the import stopped there: %d of the %d incident(s) to import were created (listed above as created) and %d were not (listed as not created): run the import again once it is corrected, and it skips those created and imports the rest", p, describe(err), i, len(todo), len(todo)-i)
		}
		fmt.Fprintf(out, "created: %s %q\n", p, p.inc.Spec.Title)
	}
	_, err := fmt.Fprintf(out, "imported %d incident(s); %d already imported; %d row(s) not imported\n", len(todo), existing, bad)
	return err
}
