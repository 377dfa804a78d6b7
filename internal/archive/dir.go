package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Dir is a Store on a directory: one read-only file per object. A file is
// written to a temporary name, synced, and then hard-linked to its key, which
// fails when the key exists, so that an object is never replaced, and
// readers never see half of one. Hard links work on every filesystem an
// archive is kept on (ext4, XFS, NFS, CephFS); on one without them Create
// fails and says so.
//
// A directory cannot hold an object until a date: retainUntil is left to
// the filesystem (a WORM volume) and the files' mode, 0444.
type Dir struct {
	root string
}

// tempPrefix begins the temporary files Create writes; List skips them.
const tempPrefix = ".tmp-"

// NewDir is the store in the directory root, which must exist.
func NewDir(root string) (*Dir, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("archive directory %s is not a directory", root)
	}
	return &Dir{root: root}, nil
}

func (d *Dir) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// Create writes data to key once.
func (d *Dir) Create(_ context.Context, key string, data []byte, _ time.Time) error {
	if err := checkKey(key, false); err != nil {
		return err
	}
	path := d.path(key)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &KeyError{"create", key, err}
	}
	tmp, err := d.writeTemp(dir, data)
	if err != nil {
		return &KeyError{"create", key, err}
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &KeyError{"create", key, ErrExists}
		}
		return &KeyError{"create", key, err}
	}
	return syncDir(dir)
}

// writeTemp writes data to a new read-only file in dir and syncs it.
func (d *Dir) writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(0o444), f.Sync(), f.Close())
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// Get reads key.
func (d *Dir) Get(_ context.Context, key string) ([]byte, error) {
	if err := checkKey(key, false); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(d.path(key))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &KeyError{"get", key, ErrNotFound}
	case err != nil:
		return nil, &KeyError{"get", key, err}
	}
	return data, nil
}

// List walks the directories that can hold keys beginning with prefix.
func (d *Dir) List(_ context.Context, prefix string) ([]string, error) {
	if err := checkKey(prefix, true); err != nil {
		return nil, err
	}
	base := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		base = prefix[:i]
	}
	var keys []string
	err := filepath.WalkDir(d.path(base), func(path string, entry fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case entry.IsDir() || strings.HasPrefix(entry.Name(), tempPrefix):
			return nil
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}
