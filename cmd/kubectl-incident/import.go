package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
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
		Long: `Bring a control document kept as a spreadsheet in as incidents, keeping when
the organisation became aware of each. The first sheet's first row names the
columns, as kubectl incident export writes them.

Nothing is half-imported: every row is checked first, and each row that
cannot be imported is named with the reason. If any row is wrong, nothing is
created unless --skip-invalid is given. The API server is then asked to
accept every row in a dry run (its admission policies too), and only when it
accepts all of them are they created. A row imported before is found by its
name and skipped, so running the import again is safe. --dry-run stops after
the API server's dry run and creates nothing.`,
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
	switch {
	case im.dryRun && (refused > 0 || (len(bad) > 0 && !im.skipInvalid)):
		return fmt.Errorf("dry run: %d row(s) wrong and %d refused by the API server; nothing was created", len(bad), refused)
	case im.dryRun:
		_, err := fmt.Fprintf(out, "dry run: %d incident(s) would be created, %d already imported, %d row(s) skipped as wrong; nothing was created\n", len(todo), len(existing), len(bad))
		return err
	case refused > 0:
		return fmt.Errorf("the API server refused %d row(s) (each is named above), so nothing was imported", refused)
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

func (im *importOptions) create(ctx context.Context, c client.Client, out io.Writer, todo []pending, existing, bad int) error {
	for i, p := range todo {
		if err := c.Create(ctx, p.inc); err != nil {
			return fmt.Errorf("%s: %s; %d incident(s) were created before it (listed above): run the import again once it is corrected, and those are skipped", p, describe(err), i)
		}
		fmt.Fprintf(out, "created: %s %q\n", p, p.inc.Spec.Title)
	}
	_, err := fmt.Fprintf(out, "imported %d incident(s); %d already imported; %d row(s) not imported\n", len(todo), existing, bad)
	return err
}
