package translog

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestEntryLineRoundTrip(t *testing.T) {
	e := Entry{
		Index: 42, Namespace: "security", Incident: "db-leak", UID: "uid-1",
		Action: "Acknowledged", Actor: "alice <a&b>\nnewline",
		Time:    time.Date(2026, 3, 2, 10, 0, 0, 5, time.FixedZone("CET", 3600)),
		Details: map[string]string{"z": "1", "a": "2"},
	}
	line, err := e.Line()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(line, '\n') {
		t.Fatalf("line holds a newline: %s", line)
	}
	want := `{"index":42,"namespace":"security","incident":"db-leak","uid":"uid-1","action":"Acknowledged","actor":"alice <a&b>\nnewline","time":"2026-03-02T09:00:00.000000005Z","details":{"a":"2","z":"1"}}`
	if string(line) != want {
		t.Errorf("line\n%s\nwant\n%s", line, want)
	}
	back, err := ParseEntry(line)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(e.Time) {
		t.Errorf("time %v, want %v", back.Time, e.Time)
	}
	back.Time, e.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(back, e) {
		t.Errorf("read back %+v, want %+v", back, e)
	}
	// The same entry in another zone is the same line.
	e.Time = time.Date(2026, 3, 2, 9, 0, 0, 5, time.UTC)
	if again, _ := e.Line(); !bytes.Equal(again, line) {
		t.Errorf("the same instant in UTC encodes as %s", again)
	}
}

func TestParseEntryRefusesWhatIsNotAnEntry(t *testing.T) {
	for _, line := range []string{"", "[]", "42", `{"index":"x"}`, "{"} {
		if _, err := ParseEntry([]byte(line)); err == nil {
			t.Errorf("%q parsed", line)
		}
	}
}
