package report

// A table is what every writer renders: the control document is one, the
// summary is several. Cells keep their kind (time, number, text) until the
// writer decides how to show it.

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

type table struct {
	// title is the Markdown heading and the XLSX sheet's name.
	title   string
	columns []tableColumn
	rows    [][]value
}

type tableColumn struct {
	name  string
	width float64
}

// tableOf is a table of rows, whose cell in each column cell gives; a
// list is joined into its one cell.
func tableOf[R any](title string, columns []tableColumn, rows []R, cell func(r *R, column int) value) table {
	t := table{title: title, columns: columns}
	for i := range rows {
		cells := make([]value, len(columns))
		for j := range columns {
			cells[j] = cell(&rows[i], j)
			if list, ok := cells[j].([]string); ok {
				cells[j] = strings.Join(list, listSeparator)
			}
		}
		t.rows = append(t.rows, cells)
	}
	return t
}

// timeLayout is how times are written as text: the document's time zone
// is the reader's, so it is not repeated in every cell.
const timeLayout = "2006-01-02 15:04"

// text is a cell as text, for CSV and Markdown.
func text(v value) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.Format(timeLayout)
	case float64:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case int:
		return strconv.Itoa(v)
	case bool:
		return yesNo(v)
	}
	return fmt.Sprint(v)
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// WriteCSV writes the control document as CSV with a header row.
func WriteCSV(w io.Writer, rows []Row) error {
	return writeCSV(w, controlTable(rows))
}

func writeCSV(w io.Writer, t table) error {
	out := csv.NewWriter(w)
	header := make([]string, len(t.columns))
	for i, c := range t.columns {
		header[i] = c.name
	}
	if err := out.Write(header); err != nil {
		return err
	}
	for _, row := range t.rows {
		record := make([]string, len(row))
		for i, v := range row {
			record[i] = text(v)
			if _, isText := v.(string); isText {
				record[i] = defuse(record[i])
			}
		}
		if err := out.Write(record); err != nil {
			return err
		}
	}
	out.Flush()
	return out.Error()
}

// defuse stops a spreadsheet from reading a text cell as a formula: the
// file is opened in one, and a title such as =HYPERLINK(...) typed by
// anyone who can report an incident would otherwise run there. A leading
// apostrophe makes the cell text (OWASP's advice on CSV injection).
// Numbers and times are written here, never taken from people, so they
// are left as they are.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteMarkdown writes the control document as a Markdown table.
func WriteMarkdown(w io.Writer, rows []Row) error {
	return writeMarkdownTable(w, controlTable(rows))
}

func writeMarkdownTable(w io.Writer, t table) error {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range t.columns {
		b.WriteString(" " + markdownCell(c.name) + " |")
	}
	b.WriteString("\n|")
	for range t.columns {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		b.WriteString("|")
		for _, v := range row {
			b.WriteString(" " + markdownCell(text(v)) + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownEscaper keeps a cell inside its table cell: a pipe would end the
// cell and a new line the row; a backslash is escaped first so that a
// title ending in one cannot undo the pipe's escape; and HTML is shown,
// not rendered, since the line breaks are written as <br>.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`,
	"|", `\|`,
	"&", "&amp;",
	"<", "&lt;",
	">", "&gt;",
	"\r\n", "<br>",
	"\r", "<br>",
	"\n", "<br>",
)

func markdownCell(s string) string { return markdownEscaper.Replace(s) }
