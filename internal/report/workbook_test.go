package report

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// sheetStart and sheetEnd enclose rows in a sheet part excelize reads.
const (
	sheetStart = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	sheetEnd = `</sheetData></worksheet>`
)

// deflated is the deflate stream of prefix, chunk n times and suffix, with
// its CRC-32 and inflated size. chunk is compressed once: flushed, each
// piece ends on a byte boundary and refers to nothing before it, so its
// copies follow one another as they are, and a stream of a gigabyte is
// made in milliseconds.
func deflated(t *testing.T, prefix, chunk []byte, n int, suffix []byte) ([]byte, uint32, uint64) {
	t.Helper()
	piece := func(b []byte, last bool) []byte {
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, flate.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if last {
			err = w.Close()
		} else {
			err = w.Flush()
		}
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	stream := bytes.NewBuffer(piece(prefix, false))
	compressed := piece(chunk, false)
	crc := crc32.ChecksumIEEE(prefix)
	for range n {
		stream.Write(compressed)
		crc = crc32.Update(crc, crc32.IEEETable, chunk)
	}
	stream.Write(piece(suffix, true))
	crc = crc32.Update(crc, crc32.IEEETable, suffix)
	return stream.Bytes(), crc, uint64(len(prefix) + n*len(chunk) + len(suffix))
}

// rowsBomb is a sheet part of a header row and then mib MiB of one-cell
// rows, deflated about 300 times, as a zip bomb is.
func rowsBomb(t *testing.T, mib int) ([]byte, uint32, uint64) {
	row := `<row><c t="inlineStr"><is><t>x</t></is></c></row>`
	chunk := strings.Repeat(row, (1<<20)/len(row)+1)[:1<<20]
	chunk = chunk[:strings.LastIndex(chunk, "</row>")+len("</row>")]
	header := `<row r="1"><c t="inlineStr"><is><t>Title</t></is></c></row>`
	return deflated(t, []byte(sheetStart+header), []byte(chunk), mib, []byte(sheetEnd))
}

// withParts is workbook with the parts given added, or put in place of
// those of the same name. Each part's data is stored as it is, already
// deflated or not, under the header given, which may lie.
func withParts(t *testing.T, workbook []byte, parts map[*zip.FileHeader][]byte) []byte {
	t.Helper()
	in, err := zip.NewReader(bytes.NewReader(workbook), int64(len(workbook)))
	if err != nil {
		t.Fatal(err)
	}
	replaced := map[string]bool{}
	for h := range parts {
		replaced[h.Name] = true
	}
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	for _, f := range in.File {
		if !replaced[f.Name] {
			if err := w.Copy(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	for h, data := range parts {
		part, err := w.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := part.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// bomb is a workbook whose part name is a sheet of 1 GiB deflated to a few
// MiB; declared is the inflated size its header gives, 0 for the truth.
func bomb(t *testing.T, name string, declared uint64) []byte {
	t.Helper()
	data, crc, size := rowsBomb(t, 1024)
	if declared == 0 {
		declared = size
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc, CompressedSize64: uint64(len(data)), UncompressedSize64: declared}
	return withParts(t, workbook(t, [][]any{requiredHeader()}), map[*zip.FileHeader][]byte{h: data})
}

func requiredHeader() []any {
	header := make([]any, len(requiredColumns))
	for i, c := range requiredColumns {
		header[i] = c
	}
	return header
}

// declaring is a workbook with parts whose headers declare the sizes
// given, inflated and compressed, over data that is not read: what the
// central directory says is refused before anything is inflated.
func declaring(t *testing.T, sizes ...[2]uint64) []byte {
	t.Helper()
	parts := map[*zip.FileHeader][]byte{}
	for i, s := range sizes {
		h := &zip.FileHeader{Name: fmt.Sprintf("xl/media/image%d.png", i+1), Method: zip.Deflate, UncompressedSize64: s[0], CompressedSize64: s[1]}
		parts[h] = make([]byte, s[1])
	}
	return withParts(t, workbook(t, [][]any{requiredHeader()}), parts)
}

// allocated is how many bytes f allocates, freed or not: an upper bound
// on the memory it holds at any time.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A workbook beyond the limits is refused with the limit it passes, having
// read no more of it than the limits allow: a bomb of 1 GiB costs less
// memory than a control document of a few thousand rows.
func TestImportRefusesAWorkbookBeyondTheLimits(t *testing.T) {
	many := map[*zip.FileHeader][]byte{}
	for i := range MaxParts {
		many[&zip.FileHeader{Name: fmt.Sprintf("xl/media/image%d.png", i+1)}] = nil
	}
	tests := map[string]struct {
		file func(t *testing.T) []byte
		want string
	}{
		"a sheet of 1 GiB": {
			file: func(t *testing.T) []byte { return bomb(t, "xl/worksheets/sheet1.xml", 0) },
			want: "refusing the workbook: part xl/worksheets/sheet1.xml inflates to 1 GiB, more than the 32 MiB one part may",
		},
		"shared strings of 1 GiB": {
			file: func(t *testing.T) []byte { return bomb(t, "xl/sharedStrings.xml", 0) },
			want: "refusing the workbook: part xl/sharedStrings.xml inflates to 1 GiB, more than the 32 MiB one part may",
		},
		"styles of 1 GiB": {
			file: func(t *testing.T) []byte { return bomb(t, "xl/styles.xml", 0) },
			want: "refusing the workbook: part xl/styles.xml inflates to 1 GiB, more than the 32 MiB one part may",
		},
		"a sheet of 1 GiB declaring 4 KiB": {
			file: func(t *testing.T) []byte { return bomb(t, "xl/worksheets/sheet1.xml", 4<<10) },
			want: "refusing the workbook: part xl/worksheets/sheet1.xml inflates to more than the 4 KiB its header declares",
		},
		"shared strings of 1 GiB declaring 4 KiB": {
			file: func(t *testing.T) []byte { return bomb(t, "xl/sharedStrings.xml", 4<<10) },
			want: "refusing the workbook: part xl/sharedStrings.xml inflates to more than the 4 KiB its header declares",
		},
		"a sheet of 2 MiB deflated 300 times": {
			file: func(t *testing.T) []byte {
				data, crc, size := rowsBomb(t, 2)
				h := &zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate, CRC32: crc, CompressedSize64: uint64(len(data)), UncompressedSize64: size}
				return withParts(t, workbook(t, [][]any{requiredHeader()}), map[*zip.FileHeader][]byte{h: data})
			},
			want: "more than 100 times, as a zip bomb does and a spreadsheet does not",
		},
		"parts of 72 MiB together": {
			file: func(t *testing.T) []byte {
				return declaring(t, [2]uint64{24 << 20, 1 << 20}, [2]uint64{24 << 20, 1 << 20}, [2]uint64{24 << 20, 1 << 20})
			},
			want: "refusing the workbook: its parts inflate to 72",
		},
		"a part of 33 MiB": {
			file: func(t *testing.T) []byte { return declaring(t, [2]uint64{33 << 20, 4 << 20}) },
			want: "refusing the workbook: part xl/media/image1.png inflates to 33 MiB, more than the 32 MiB one part may",
		},
		"more than 1000 parts": {
			file: func(t *testing.T) []byte { return withParts(t, workbook(t, nil), many) },
			want: "parts, more than the 1000 a workbook to import may have",
		},
		"a file of more than 16 MiB": {
			file: func(t *testing.T) []byte { return declaring(t, [2]uint64{17 << 20, 17 << 20}) },
			want: "the workbook is larger than 16 MiB, the most an import reads: split the document",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			file := tc.file(t)
			var result ImportResult
			var err error
			used := allocated(func() { result, err = Import(bytes.NewReader(file), time.UTC, now) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Import error = %v, want %q", err, tc.want)
			}
			if len(result.Incidents)+len(result.Errors) != 0 {
				t.Errorf("Import read %d rows of a workbook it refused", len(result.Incidents)+len(result.Errors))
			}
			// Reading the file, at most 16 MiB, costs about twice its size
			// as the buffer grows; nothing is inflated.
			if limit := 3*uint64(len(file)) + 4<<20; used > limit {
				t.Errorf("Import allocated %s refusing a file of %s, more than %s", byteSize(used), byteSize(len(file)), byteSize(limit))
			}
			t.Logf("%s file: %s allocated", byteSize(len(file)), byteSize(used))
		})
	}
}

// rowsWorkbook is a sheet of a header and n valid rows.
func rowsWorkbook(t *testing.T, n int) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	w, err := f.NewStreamWriter(f.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetRow("A1", requiredHeader()); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		reported := t0.Add(-time.Duration(i) * time.Minute).Format("2006-01-02 15:04")
		if err := w.SetRow(cell, []any{reported, fmt.Sprintf("Laptop %d lost", i), "Loss", "Low", "Priya"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportRows(t *testing.T) {
	result, err := Import(bytes.NewReader(rowsWorkbook(t, MaxImportRows)), time.UTC, now)
	if err != nil || len(result.Incidents) != MaxImportRows || len(result.Errors) != 0 {
		t.Fatalf("Import of %d rows: %d incidents, errors %v, %v", MaxImportRows, len(result.Incidents), result.Errors, err)
	}
	// Blank rows between them do not count.
	withBlank := workbook(t, [][]any{requiredHeader(), {}, {}, {t0.Format("2006-01-02 15:04"), "Laptop lost", "Loss", "Low", "Priya"}})
	if result, err := Import(bytes.NewReader(withBlank), time.UTC, now); err != nil || len(result.Incidents) != 1 || result.Incidents[0].Row != 4 {
		t.Errorf("Import with blank rows: %+v, %v; want one incident, row 4", result.Incidents, err)
	}

	result, err = Import(bytes.NewReader(rowsWorkbook(t, MaxImportRows+1)), time.UTC, now)
	want := `sheet "Sheet1" has more than 10000 rows of incidents (row 10002 is one more), the most one import takes: split the document`
	if err == nil || err.Error() != want {
		t.Errorf("Import of %d rows: error %v, want %q", MaxImportRows+1, err, want)
	}
	if len(result.Incidents)+len(result.Errors) != 0 {
		t.Errorf("Import returned %d rows of a sheet it refused", len(result.Incidents)+len(result.Errors))
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 4 << 10: "4 KiB", 1536: "1.5 KiB",
		32 << 20: "32 MiB", 1<<30 - 1: "1 GiB", 3 << 30: "3 GiB",
	} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
