package report

// XLSX: each table a sheet with a bold header row, an autofilter over the
// whole table and the header frozen, so a reviewer can sort and filter a
// long document without losing the column names. Times are date cells and
// durations numbers, so the spreadsheet can sort and sum them.

import (
	"io"
	"time"

	"github.com/xuri/excelize/v2"
)

const (
	// dateFormat is the number format of date cells.
	dateFormat = "yyyy-mm-dd hh:mm"
	// numberFormat is the number format of hours and days.
	numberFormat = "0.00"
)

// WriteXLSX writes the control document as an XLSX workbook of one sheet.
func WriteXLSX(w io.Writer, rows []Row) error {
	return writeWorkbook(w, []table{controlTable(rows)})
}

func writeWorkbook(w io.Writer, tables []table) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	styles, err := newStyles(f)
	if err != nil {
		return err
	}
	first := f.GetSheetName(0)
	for i, t := range tables {
		if i == 0 {
			err = f.SetSheetName(first, t.title)
		} else {
			_, err = f.NewSheet(t.title)
		}
		if err != nil {
			return err
		}
		if err := writeSheet(f, styles, t); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

type styles struct{ header, date, number int }

func newStyles(f *excelize.File) (styles, error) {
	var s styles
	var err error
	if s.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}}); err != nil {
		return s, err
	}
	dateFmt, numberFmt := dateFormat, numberFormat
	if s.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt}); err != nil {
		return s, err
	}
	s.number, err = f.NewStyle(&excelize.Style{CustomNumFmt: &numberFmt})
	return s, err
}

func writeSheet(f *excelize.File, st styles, t table) error {
	sheet := t.title
	for i, c := range t.columns {
		cell, err := excelize.CoordinatesToCellName(i+1, 1)
		if err != nil {
			return err
		}
		if err := f.SetCellStr(sheet, cell, c.name); err != nil {
			return err
		}
		name, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return err
		}
		if err := f.SetColWidth(sheet, name, name, c.width); err != nil {
			return err
		}
	}
	last, err := excelize.CoordinatesToCellName(len(t.columns), 1)
	if err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", last, st.header); err != nil {
		return err
	}
	for r, row := range t.rows {
		for c, v := range row {
			cell, err := excelize.CoordinatesToCellName(c+1, r+2)
			if err != nil {
				return err
			}
			if err := setCell(f, st, sheet, cell, v); err != nil {
				return err
			}
		}
	}
	// The filter covers the header and every row, so it still applies
	// when the table is empty.
	end, err := excelize.CoordinatesToCellName(len(t.columns), len(t.rows)+1)
	if err != nil {
		return err
	}
	if err := f.AutoFilter(sheet, "A1:"+end, nil); err != nil {
		return err
	}
	return f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
}

func setCell(f *excelize.File, st styles, sheet, cell string, v value) error {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		// Always a string cell, never a formula, whatever it starts with.
		return f.SetCellStr(sheet, cell, v)
	case bool:
		return f.SetCellStr(sheet, cell, yesNo(v))
	case int:
		return f.SetCellInt(sheet, cell, int64(v))
	case float64:
		if err := f.SetCellFloat(sheet, cell, v, -1, 64); err != nil {
			return err
		}
		return f.SetCellStyle(sheet, cell, cell, st.number)
	case time.Time:
		if v.IsZero() {
			return nil
		}
		if err := f.SetCellValue(sheet, cell, wallClock(v)); err != nil {
			return err
		}
		return f.SetCellStyle(sheet, cell, cell, st.date)
	}
	return f.SetCellStr(sheet, cell, text(v))
}

// wallClock is t's time of day in its own zone, labelled UTC. A spreadsheet
// date has no zone: it is the time people read, which is the document's.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}
