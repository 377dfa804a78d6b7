package report

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// openXLSX reads back a workbook a writer made.
func openXLSX(t *testing.T, b []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// sheetXML is the XML of the workbook's n-th sheet, counting from 1.
func sheetXML(t *testing.T, b []byte, n int) string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := z.Open("xl/worksheets/sheet" + strconv.Itoa(n) + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	x, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(x)
}

// numberFormatOf is the custom number format of a cell's style.
func numberFormatOf(t *testing.T, f *excelize.File, sheet, cell string) string {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	style, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if style.CustomNumFmt == nil {
		return ""
	}
	return *style.CustomNumFmt
}

// checkTableLayout checks what every sheet has: the autofilter over the
// whole table, the header frozen, the header row's names.
func checkTableLayout(t *testing.T, b []byte, f *excelize.File, n int, tb table) {
	t.Helper()
	sheet := f.GetSheetName(n - 1)
	if sheet != tb.title {
		t.Errorf("sheet %d is %q, want %q", n, sheet, tb.title)
	}
	end, _ := excelize.CoordinatesToCellName(len(tb.columns), len(tb.rows)+1)
	// excelize writes the reference absolute ($A$1); either form is one.
	xml := strings.ReplaceAll(sheetXML(t, b, n), "$", "")
	if want := `<autoFilter ref="A1:` + end + `"`; !strings.Contains(xml, want) {
		t.Errorf("sheet %q has no %s", sheet, want)
	}
	panes, err := f.GetPanes(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if !panes.Freeze || panes.YSplit != 1 || panes.XSplit != 0 || panes.TopLeftCell != "A2" {
		t.Errorf("sheet %q panes = %+v, want the first row frozen", sheet, panes)
	}
	for i, c := range tb.columns {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		if got, _ := f.GetCellValue(sheet, cell); got != c.name {
			t.Errorf("sheet %q header %s = %q, want %q", sheet, cell, got, c.name)
		}
		col, _ := excelize.ColumnNumberToName(i + 1)
		if got, _ := f.GetColWidth(sheet, col); got != c.width {
			t.Errorf("sheet %q column %s width = %v, want %v", sheet, col, got, c.width)
		}
	}
}

// checkCell checks that a cell holds v with its kind: a date cell for a
// time, a number for a number, text for the rest.
func checkCell(t *testing.T, f *excelize.File, sheet, cell string, v value) {
	t.Helper()
	raw, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	switch v := v.(type) {
	case time.Time:
		if v.IsZero() {
			if raw != "" {
				t.Errorf("%s = %q, want blank", cell, raw)
			}
			return
		}
		serial, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Errorf("%s = %q, want a date cell", cell, raw)
			return
		}
		got, _ := excelize.ExcelDateToTime(serial, false)
		if want := wallClock(v).Round(time.Second); !got.Round(time.Second).Equal(want) {
			t.Errorf("%s = %v, want %v", cell, got, want)
		}
		if got := numberFormatOf(t, f, sheet, cell); got != dateFormat {
			t.Errorf("%s number format = %q, want %q", cell, got, dateFormat)
		}
	case float64:
		got, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %q, want the number %v", cell, raw, v)
		}
		if got := numberFormatOf(t, f, sheet, cell); got != numberFormat {
			t.Errorf("%s number format = %q, want %q", cell, got, numberFormat)
		}
	case int:
		if raw != strconv.Itoa(v) {
			t.Errorf("%s = %q, want the number %d", cell, raw, v)
		}
		if typ, _ := f.GetCellType(sheet, cell); typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
			t.Errorf("%s type = %v, want a number", cell, typ)
		}
	default:
		if want := text(v); raw != want {
			t.Errorf("%s = %q, want %q", cell, raw, want)
		}
		if formula, _ := f.GetCellFormula(sheet, cell); formula != "" {
			t.Errorf("%s is the formula %q, want text", cell, formula)
		}
	}
}

func TestWriteXLSX(t *testing.T) {
	loc := london(t)
	injected := fullRow(loc)
	injected.Name, injected.Title = "formula", `=HYPERLINK("http://evil.example","click")`
	tests := map[string]struct {
		rows []Row
		// spot checks, by hand: cell → value as text or a time
		want map[string]value
	}{
		"no incidents: the header and its filter": {},
		"the fixtures, a full row and a formula": {
			rows: append(ControlDocument(fixtures, fixtureAssets, nil, loc, now), fullRow(loc), injected),
			want: map[string]value{
				"B2":  "wrong-letter",
				"C2":  time.Date(2026, 9, 30, 10, 0, 0, 0, loc), // t0-120h, in BST
				"D2":  time.Date(2026, 9, 30, 0, 0, 0, 0, loc),  // aware 130h before t0
				"AF2": 80.0,                                     // resolved without an acknowledgement: 80 hours
				"AG2": 80.0,
				"AL2": "Late",
				"P4":  "Named contact: Crystina Woolley, mi.manager@stw.example",
				"V4":  2,
				"AH4": "Missed",
				"F9":  `=HYPERLINK("http://evil.example","click")`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteXLSX(&buf, tc.rows); err != nil {
				t.Fatal(err)
			}
			f := openXLSX(t, buf.Bytes())
			if got := f.GetSheetList(); len(got) != 1 || got[0] != "Control document" {
				t.Errorf("sheets = %v, want [Control document]", got)
			}
			tb := controlTable(tc.rows)
			checkTableLayout(t, buf.Bytes(), f, 1, tb)
			for r, row := range tb.rows {
				for c, v := range row {
					cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
					checkCell(t, f, "Control document", cell, v)
				}
			}
			for cell, v := range tc.want {
				checkCell(t, f, "Control document", cell, v)
			}
			// Widths by hand: the title wide, the flags narrow.
			for col, want := range map[string]float64{"F": 40, "R": 9, "C": 17} {
				if got, _ := f.GetColWidth("Control document", col); got != want {
					t.Errorf("column %s width = %v, want %v", col, got, want)
				}
			}
			if rows, _ := f.GetRows("Control document"); len(rows) != len(tc.rows)+1 {
				t.Errorf("%d rows in the sheet, want %d", len(rows), len(tc.rows)+1)
			}
		})
	}
}

func readCSV(t *testing.T, rows []Row) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != len(rows)+1 {
		t.Fatalf("%d records, want %d", len(records), len(rows)+1)
	}
	return records
}

func TestWriteCSVRoundTrip(t *testing.T) {
	loc := london(t)
	tricky := fullRow(loc)
	tricky.Title = `Laptop, "the old one"`
	tricky.Description = "Line one\nLine two, with a comma"
	records := readCSV(t, []Row{fullRow(loc), tricky})
	for i, want := range fullRowText {
		if records[0][i] != want[0] {
			t.Errorf("header %d = %q, want %q", i, records[0][i], want[0])
		}
		if records[1][i] != want[1] {
			t.Errorf("%s = %q, want %q", want[0], records[1][i], want[1])
		}
	}
	if got := records[2][5]; got != tricky.Title {
		t.Errorf("Title = %q, want %q", got, tricky.Title)
	}
	if got := records[2][6]; got != tricky.Description {
		t.Errorf("Description = %q, want %q", got, tricky.Description)
	}
}

func TestWriteCSVDefusesFormulas(t *testing.T) {
	tests := map[string]struct {
		title, want string
	}{
		"equals":           {`=HYPERLINK("http://evil.example")`, `'=HYPERLINK("http://evil.example")`},
		"plus":             {"+1+1", "'+1+1"},
		"minus":            {"-2+3", "'-2+3"},
		"at":               {"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		"tab":              {"\t=1", "'\t=1"},
		"carriage return":  {"\r=1", "'\r=1"},
		"inside is fine":   {"a=b+c", "a=b+c"},
		"blank stays":      {"", ""},
		"a quote is text":  {"'quoted", "'quoted"},
		"a space is not =": {" =1", " =1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			records := readCSV(t, []Row{{Title: tc.title, Reporter: tc.title}})
			if got := records[1][5]; got != tc.want {
				t.Errorf("Title = %q, want %q", got, tc.want)
			}
			if got := records[1][9]; got != tc.want {
				t.Errorf("Reporter = %q, want %q", got, tc.want)
			}
		})
	}
	// Numbers are ours, not people's: a negative one stays a number.
	records := readCSV(t, []Row{{ReportedAt: t0, AcknowledgedAt: t0.Add(-time.Hour)}})
	if got := records[1][31]; got != "-1.00" {
		t.Errorf("Hours to acknowledge = %q, want -1.00", got)
	}
}

func TestMarkdownCell(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":                  {"Laptop lost", "Laptop lost"},
		"a pipe":                 {"a|b", `a\|b`},
		"a new line":             {"one\ntwo", "one<br>two"},
		"windows new lines":      {"one\r\ntwo\rthree", "one<br>two<br>three"},
		"a backslash and a pipe": {`a\|b`, `a\\\|b`},
		"a trailing backslash":   {`a\`, `a\\`},
		"HTML is shown":          {`<img src=x onerror=alert(1)> & co`, `&lt;img src=x onerror=alert(1)&gt; &amp; co`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := markdownCell(tc.in); got != tc.want {
				t.Errorf("markdownCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriteMarkdown(t *testing.T) {
	loc := london(t)
	row := fullRow(loc)
	row.Title = `Tricky | title \ with` + "\nnew line"
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, []Row{row}); err != nil {
		t.Fatal(err)
	}
	lines := markdownLines(t, buf.String(), 1, len(columns))
	wantCells := []string{"finance", "lost-laptop", "2026-10-05 10:00", "2026-10-05 09:00", "Incident", `Tricky \| title \\ with<br>new line`}
	if want := "| " + strings.Join(wantCells, " | ") + " |"; !strings.HasPrefix(lines[2], want) {
		t.Errorf("row = %s\nwant it to start %s", lines[2], want)
	}
	if !strings.HasPrefix(lines[0], "| Namespace | Name | Reported at |") || !strings.HasPrefix(lines[1], "| --- | --- |") {
		t.Errorf("header = %s\n%s", lines[0], lines[1])
	}
}

// markdownLines are the lines of a Markdown table, checked to be the
// header, the rule and rows rows, each line of columns cells.
func markdownLines(t *testing.T, md string, rows, columns int) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	if len(lines) != rows+2 {
		t.Fatalf("%d lines, want the header, the rule and %d rows:\n%s", len(lines), rows, md)
	}
	for i, line := range lines {
		if got := countSeparators(line); got != columns+1 {
			t.Errorf("line %d has %d cell separators, want %d: %s", i, got, columns+1, line)
		}
	}
	return lines
}

// countSeparators counts the pipes that separate cells: those not escaped
// by an odd run of backslashes.
func countSeparators(line string) int {
	n, backslashes := 0, 0
	for _, r := range line {
		switch {
		case r == '\\':
			backslashes++
			continue
		case r == '|' && backslashes%2 == 0:
			n++
		}
		backslashes = 0
	}
	return n
}
