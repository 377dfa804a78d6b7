package main

// The control document and the breach register (export) and the review
// group's summary, made by internal/report from the incidents and the
// assets and Filings they name.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/report"
)

// documentOptions are what export and summary share.
type documentOptions struct {
	*options
	output, file, zone string
	from, to           string
	// archived is the archive whose incidents of the period, archived
	// and removed from the cluster, the document covers too.
	archived archiveFlags
}

func (d *documentOptions) flags(cmd *cobra.Command, formats string) {
	f := cmd.Flags()
	f.StringVarP(&d.output, "output", "o", "markdown", formats)
	f.StringVar(&d.file, "output-file", "", "write to this file instead of the terminal")
	f.StringVar(&d.zone, "tz", "", "time zone of the document's times, such as Europe/London (default: your local zone)")
	f.StringVar(&d.from, "from", "", "first instant of the period (2026-10-01, in the document's zone, or RFC 3339)")
	f.StringVar(&d.to, "to", "", "end of the period, not included (default: now)")
	d.addAllNamespaces(cmd, "take incidents")
	d.archived.bindIncidents(cmd, "also take the incidents of the period that retention archived and removed from the cluster, from the archive at DIR or s3://bucket/prefix; each is checked against the archived log, and none is taken unless all check")
}

// span is the time zone, the time now and the period --from and --to
// give; explicit is false when neither is given, and the command chooses.
type span struct {
	loc      *time.Location
	now      time.Time
	from, to time.Time
	explicit bool
}

// span checks -o against the command's formats, and reads --tz, --from
// and --to.
func (d *documentOptions) span(formats ...string) (s span, err error) {
	if err := checkFormat(d.output, formats...); err != nil {
		return s, err
	}
	if s.loc, err = location(d.zone); err != nil {
		return s, err
	}
	s.now = d.now()
	if d.from == "" && d.to == "" {
		return s, nil
	}
	if d.from == "" {
		return s, fmt.Errorf("--to needs --from")
	}
	s.explicit = true
	if s.from, err = input.Time("from", d.from, s.loc, s.now); err != nil {
		return s, err
	}
	s.to = s.now
	if d.to != "" {
		if s.to, err = input.Time("to", d.to, s.loc, s.now); err != nil {
			return s, err
		}
	}
	if !s.from.Before(s.to) {
		return s, fmt.Errorf("--from %s is not before --to %s", s.from.Format(time.RFC3339), s.to.Format(time.RFC3339))
	}
	return s, nil
}

// incidents connects, and lists the incidents in scope and the Filings
// that record their regulatory stages; with --archive, also the incidents
// retention archived whose time in the cluster overlaps the span's period
// (every one, when it has none).
func (d *documentOptions) incidents(ctx context.Context, s span) (client.Client, string, []securityv1alpha1.Incident, report.Filings, error) {
	c, ns, err := d.connect()
	if err != nil {
		return nil, "", nil, nil, err
	}
	var incidents securityv1alpha1.IncidentList
	if err := c.List(ctx, &incidents, client.InNamespace(ns)); err != nil {
		return nil, "", nil, nil, fmt.Errorf("listing incidents: %w", err)
	}
	if d.archived.location != "" {
		archived, err := d.archived.incidentsInPeriod(ctx, d.streams.ErrOut, ns, s.from, s.to, s.loc)
		if err != nil {
			return nil, "", nil, nil, err
		}
		incidents.Items = report.WithArchived(incidents.Items, archived)
	}
	var filings securityv1alpha1.FilingList
	if err := c.List(ctx, &filings, client.InNamespace(ns)); err != nil {
		return nil, "", nil, nil, fmt.Errorf("listing the Filings, for what was decided and filed: %w", err)
	}
	return c, ns, incidents.Items, report.FilingsOf(filings.Items), nil
}

// rows is the control document of every incident in scope.
func (d *documentOptions) rows(ctx context.Context, s span) ([]report.Row, error) {
	c, ns, incidents, filings, err := d.incidents(ctx, s)
	if err != nil {
		return nil, err
	}
	var assets securityv1alpha1.AssetList
	if err := c.List(ctx, &assets, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing the assets, for their suppliers: %w", err)
	}
	return report.ControlDocument(incidents, report.AssetsOf(assets.Items), filings, s.loc, s.now), nil
}

// register is the breach register of every incident in scope.
func (d *documentOptions) register(ctx context.Context, s span) ([]report.Breach, error) {
	_, _, incidents, filings, err := d.incidents(ctx, s)
	if err != nil {
		return nil, err
	}
	return report.BreachRegister(incidents, filings, s.loc, s.now), nil
}

// within is true when t is in [from, to).
func within(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

// write sends a document to --output-file or the terminal. A workbook is
// not text: it is refused on a terminal, where it would garble the screen.
// A document of text (CSV, Markdown) keeps its line breaks, and shows
// every other control or format character in it as an escape (see
// internal/printable), on the terminal and in the file alike: one opened
// later in a terminal or an editor can hide or reorder nothing either.
func (d *documentOptions) write(format, what string, render func(io.Writer) error) error {
	if d.file == "" && format == "xlsx" {
		if f, ok := d.streams.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return fmt.Errorf("-o xlsx writes a workbook, not text: give --output-file FILE.xlsx, or redirect the output to a file")
		}
	}
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	data := b.Bytes()
	if format != "xlsx" {
		data = []byte(printable.Lines(b.String()))
	}
	if d.file == "" {
		_, err := d.streams.Out.Write(data)
		return err
	}
	if err := os.WriteFile(d.file, data, 0o644); err != nil {
		return fmt.Errorf("--output-file: %w", err)
	}
	_, err := printable.Fprintf(d.streams.ErrOut, "%s written to %s\n", what, d.file)
	return err
}

func newExportCommand(o *options) *cobra.Command {
	d := &documentOptions{options: o}
	var since string
	var register bool
	cmd := &cobra.Command{
		Use:   "export [--register] [--since 7d | --from TIME [--to TIME]] -o csv|xlsx|markdown [--output-file F] [-A]",
		Short: "The control document of a period, or the register of personal data breaches",
		Long: `The control document the manager reviews every week: one row per incident
reported in the period (the last 7 days unless --since or --from says
otherwise), with when and by whom it was reported, acknowledged and
resolved, the assets and their suppliers, the SLA and the report to the
supervisory authority. XLSX has a header row, filters and frozen panes.

With --register, the register of personal data breaches that UK GDPR
Art. 33(5) asks for: one row per incident involving personal data,
reported to the authority or not, with the decision whether to notify it
and the reasons, who decided, drafted, agreed and filed it (as the API
server attested each account), when it was filed, whether and how late,
with the reason for the delay, the authority's case number, and whether
the people were told (Art. 34), read from the incidents' Filings. The
register is kept whole: it holds every breach unless --since or --from
narrows it to those the organisation became aware of in the period.

With --archive DIR or s3://bucket/prefix, the incidents of the period that
retention archived and removed from the cluster are taken from the
operator's archive too (the register, kept whole, takes every one). Each is
checked against the archived log first; no document is made unless all
check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := d.span("csv", "xlsx", "markdown")
			if err != nil {
				return err
			}
			if s.explicit && cmd.Flags().Changed("since") {
				return fmt.Errorf("give --since or --from, not both")
			}
			// The register has no period unless one is asked for; the
			// control document's is the last 7 days by default.
			whole := register && !s.explicit && !cmd.Flags().Changed("since")
			if !s.explicit && !whole {
				age, err := input.Age("since", since)
				if err != nil {
					return err
				}
				s.from, s.to = s.now.Add(-age), s.now
			}
			if register {
				return d.writeRegister(cmd.Context(), s, whole)
			}
			all, err := d.rows(cmd.Context(), s)
			if err != nil {
				return err
			}
			var rows []report.Row
			for _, r := range all {
				if within(r.ReportedAt, s.from, s.to) {
					rows = append(rows, r)
				}
			}
			write := map[string]func(io.Writer, []report.Row) error{"csv": report.WriteCSV, "xlsx": report.WriteXLSX, "markdown": report.WriteMarkdown}[d.output]
			what := fmt.Sprintf("control document (%d incidents reported %s)", len(rows), s.period())
			return d.write(d.output, what, func(w io.Writer) error { return write(w, rows) })
		},
	}
	cmd.Flags().StringVar(&since, "since", "7d", "the period ends now and began this long ago: 7d, 2w, 24h (with --register, only when given)")
	cmd.Flags().BoolVar(&register, "register", false, "the register of personal data breaches (UK GDPR Art. 33(5)), every one unless a period is given")
	d.flags(cmd, "csv, xlsx or markdown")
	return cmd
}

// writeRegister writes the breach register: every breach in scope when
// whole, else those the organisation became aware of in the span's period.
func (d *documentOptions) writeRegister(ctx context.Context, s span, whole bool) error {
	all, err := d.register(ctx, s)
	if err != nil {
		return err
	}
	rows, what := all, fmt.Sprintf("breach register (%d personal data breaches, every one recorded)", len(all))
	if !whole {
		rows = nil
		for _, r := range all {
			if within(r.AwareAt, s.from, s.to) {
				rows = append(rows, r)
			}
		}
		what = fmt.Sprintf("breach register (%d personal data breaches the organisation became aware of %s)", len(rows), s.period())
	}
	write := map[string]func(io.Writer, []report.Breach) error{
		"csv": report.WriteBreachRegisterCSV, "xlsx": report.WriteBreachRegisterXLSX, "markdown": report.WriteBreachRegisterMarkdown,
	}[d.output]
	return d.write(d.output, what, func(w io.Writer) error { return write(w, rows) })
}

// period is the span's period as the messages say it.
func (s span) period() string {
	return fmt.Sprintf("from %s to %s", s.from.In(s.loc).Format("2006-01-02 15:04"), s.to.In(s.loc).Format("2006-01-02 15:04 MST"))
}

func newSummaryCommand(o *options) *cobra.Command {
	d := &documentOptions{options: o}
	var period string
	cmd := &cobra.Command{
		Use:   "summary --period 2026-10 [-o markdown|xlsx] [--output-file F] [-A]",
		Short: "The review group's summary of a period: counts, times to acknowledge and resolve, SLA, authority reports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := d.span("markdown", "xlsx")
			switch {
			case err != nil:
				return err
			case s.explicit && period != "":
				return fmt.Errorf("give --period or --from, not both")
			case !s.explicit && period == "":
				return fmt.Errorf("--period is required: a year (2026), a month (2026-10), a quarter (2026-Q4), an ISO week (2026-W43) or a day; or give --from and --to")
			case !s.explicit:
				if s.from, s.to, err = input.Period("period", period, s.loc); err != nil {
					return err
				}
			}
			rows, err := d.rows(cmd.Context(), s)
			if err != nil {
				return err
			}
			summary := report.Summarise(rows, s.from, s.to, s.now)
			write := report.WriteSummaryMarkdown
			if d.output == "xlsx" {
				write = report.WriteSummaryXLSX
			}
			what := fmt.Sprintf("summary (%d incidents reported)", summary.Reported)
			return d.write(d.output, what, func(w io.Writer) error { return write(w, summary) })
		},
	}
	cmd.Flags().StringVar(&period, "period", "", "the period: 2026, 2026-10, 2026-Q4, 2026-W43 or 2026-10-05")
	d.flags(cmd, "markdown or xlsx")
	return cmd
}
