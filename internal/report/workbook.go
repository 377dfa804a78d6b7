package report

// Opening a workbook that may be hostile. An XLSX file is a zip archive,
// and a file of a few megabytes can inflate to gigabytes (a zip bomb), so
// what the archive declares is checked before any part is inflated: its
// central directory gives each part's size, inflated and compressed. A
// header can lie, so each part is then inflated once, into nothing,
// through a reader that stops one byte past what the part declared; only
// a workbook whose every part is what it says is handed to excelize, with
// the same limits set as its own.

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// The limits on a workbook to import. A control document of MaxImportRows
// incidents, each with a description of 2,000 characters, is a file of
// about 5 MiB whose sheet inflates to 11 MiB and its shared strings to
// 21 MiB, each about 6 to 10 times smaller compressed: the limits leave it
// room, and refuse what no control document needs.
const (
	// MaxWorkbookBytes is the largest file read: it is read into memory.
	MaxWorkbookBytes = 16 << 20
	// MaxInflatedBytes is the most all the parts may inflate to together.
	MaxInflatedBytes = 64 << 20
	// MaxPartBytes is the most one part, such as a sheet or the shared
	// strings, may inflate to.
	MaxPartBytes = 32 << 20
	// MaxCompressionRatio is how many times smaller than its inflated size
	// a part over CompressionRatioFrom bytes may be. A spreadsheet's XML
	// compresses 5 to 20 times; a bomb, hundreds of times.
	MaxCompressionRatio = 100
	// CompressionRatioFrom is the size from which the ratio is checked: a
	// small part of repeated markup may compress very well.
	CompressionRatioFrom = 1 << 20
	// MaxParts is the most parts the archive may hold: a workbook has
	// about two for each sheet, and ten more.
	MaxParts = 1000
	// MaxImportRows is the most incidents one document may hold.
	MaxImportRows = 10000

	// inMemoryPartBytes is the largest sheet or shared strings part
	// excelize keeps in memory; a larger one it inflates to a temporary
	// file and reads from there.
	inMemoryPartBytes = 16 << 20
)

// openWorkbook reads r, at most MaxWorkbookBytes of it, and opens it as a
// workbook once its parts are within the limits.
func openWorkbook(r io.Reader) (*excelize.File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxWorkbookBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the workbook: %w", err)
	}
	if len(data) > MaxWorkbookBytes {
		return nil, fmt.Errorf("the workbook is larger than %s, the most an import reads: split the document", byteSize(MaxWorkbookBytes))
	}
	archive, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("reading the workbook: it is not an XLSX workbook (%w); an encrypted workbook or an Excel 97-2003 .xls must be saved as an XLSX workbook without a password", err)
	}
	if err := checkDeclared(archive.File); err != nil {
		return nil, fmt.Errorf("refusing the workbook: %w", err)
	}
	for _, part := range archive.File {
		if err := checkInflated(part); err != nil {
			return nil, fmt.Errorf("refusing the workbook: %w", err)
		}
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    MaxInflatedBytes,
		UnzipXMLSizeLimit: inMemoryPartBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the workbook: %w", err)
	}
	return f, nil
}

// checkDeclared judges the parts by the sizes the central directory
// declares, inflating nothing.
func checkDeclared(parts []*zip.File) error {
	if len(parts) > MaxParts {
		return fmt.Errorf("it has %d parts, more than the %d a workbook to import may have", len(parts), MaxParts)
	}
	var total uint64
	for _, part := range parts {
		inflated, compressed := part.UncompressedSize64, part.CompressedSize64
		if inflated > MaxPartBytes {
			return fmt.Errorf("part %s inflates to %s, more than the %s one part may", part.Name, byteSize(inflated), byteSize(MaxPartBytes))
		}
		if inflated > CompressionRatioFrom && inflated/MaxCompressionRatio > compressed {
			return fmt.Errorf("part %s inflates from %s to %s, more than %d times, as a zip bomb does and a spreadsheet does not", part.Name, byteSize(compressed), byteSize(inflated), MaxCompressionRatio)
		}
		total += inflated
	}
	if total > MaxInflatedBytes {
		return fmt.Errorf("its parts inflate to %s, more than the %s all parts may together", byteSize(total), byteSize(MaxInflatedBytes))
	}
	return nil
}

// checkInflated inflates part into nothing, at most one byte more than it
// declares, to find a header that lies. excelize would read such a part
// cut short at its declared size without saying so.
func checkInflated(part *zip.File) error {
	rc, err := part.Open()
	if err != nil {
		return fmt.Errorf("part %s cannot be read: %w", part.Name, err)
	}
	defer func() { _ = rc.Close() }()
	n, err := io.Copy(io.Discard, io.LimitReader(rc, int64(part.UncompressedSize64)+1))
	switch {
	case uint64(n) > part.UncompressedSize64, errors.Is(err, zip.ErrFormat):
		// archive/zip stops at the declared size with ErrFormat; the limit
		// stops here whatever the reader does.
		return fmt.Errorf("part %s inflates to more than the %s its header declares", part.Name, byteSize(part.UncompressedSize64))
	case err != nil:
		return fmt.Errorf("part %s cannot be read: %w", part.Name, err)
	}
	return nil
}

// byteSize is n in the largest binary unit that keeps it at one or more,
// to a tenth.
func byteSize[T int | uint64](n T) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", uint64(n))
	}
	v := float64(n) / 1024
	unit := "KiB"
	for _, next := range []string{"MiB", "GiB"} {
		if tenths(v) < 1024 {
			break
		}
		v, unit = v/1024, next
	}
	return strconv.FormatFloat(tenths(v), 'f', -1, 64) + " " + unit
}

func tenths(v float64) float64 { return math.Round(v*10) / 10 }
