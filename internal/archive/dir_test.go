package archive

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func newDirStore(t *testing.T) Store {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDirStore(t *testing.T) { testStore(t, newDirStore) }

// A directory store writes read-only files, leaves no temporary files
// behind, and keeps its keys inside its root.
func TestDirStoreFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(filepath.Join(root, "archive"))
	if err == nil {
		t.Fatal("NewDir accepted a directory that does not exist")
	}
	if err := os.Mkdir(filepath.Join(root, "archive"), 0o755); err != nil {
		t.Fatal(err)
	}
	if d, err = NewDir(filepath.Join(root, "archive")); err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, "log/batches/log-1", []byte("batch"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, "log/batches/log-1", []byte("other"), time.Time{}); err == nil {
		t.Fatal("a second create succeeded")
	}
	info, err := os.Stat(filepath.Join(root, "archive", "log", "batches", "log-1"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o444 {
		t.Errorf("object file mode %v, want 0444", info.Mode().Perm())
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err == nil && !entry.IsDir() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"archive/log/batches/log-1"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want only %q", files, want)
	}
	// A temporary file another writer left behind is not an object.
	if err := os.WriteFile(filepath.Join(root, "archive", "log", "batches", tempPrefix+"123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := d.List(ctx, "log/")
	if err != nil || !slices.Equal(keys, []string{"log/batches/log-1"}) {
		t.Errorf("List = %q, %v", keys, err)
	}
}
