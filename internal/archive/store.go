// Package archive keeps a write-once copy of each namespace's transparency
// log (internal/translog) in object storage, a directory or an S3 bucket,
// so that an auditor can check the log years later without the cluster.
//
// Each log lives under its own prefix, the log's name (its origin):
//
//	<log>/batches/log-0000000000000000000   each batch as translog encodes it
//	<log>/checkpoints/0000000000000000256   each batch's signed checkpoint, by size
//	<log>/tile/<L>/<N>                      the completed Merkle hash tiles
//
// The tiles are those of C2SP tlog-tiles (c2sp.org/tlog-tiles), height 8,
// as golang.org/x/mod/sumdb/tlog computes them: with them an auditor reads
// a month of the log without the entries before it, and proofs are served
// without reading every entry. Only completed tiles are written, since an
// object is never replaced; the right edge of the tree is computed from
// the last batches.
//
// Writer archives batches; Read reads a time range; Verify checks one
// and says how long it took and how much it read. Stores do no
// verification: everything they return is checked by Verify.
// The package reads no clock but the Writer's and Verify's stopwatch.
package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Store is write-once object storage: an object is created once, with the
// date before which the storage must keep it unchanged, and never
// replaced.
type Store interface {
	// Create stores data under key. It fails with an error wrapping
	// ErrExists when key exists, and never replaces an object. When
	// retainUntil is not zero and the storage can lock objects, the object
	// cannot be deleted or overwritten before then.
	Create(ctx context.Context, key string, data []byte, retainUntil time.Time) error
	// Get reads the object at key, failing with an error wrapping
	// ErrNotFound when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys that begin with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

var (
	// ErrExists is what Create fails with when the key exists.
	ErrExists = errors.New("the object exists")
	// ErrNotFound is what Get fails with when the key does not exist.
	ErrNotFound = errors.New("no such object")
)

// KeyError is an error about one object.
type KeyError struct {
	Op, Key string
	Err     error
}

func (e *KeyError) Error() string { return e.Op + " " + e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// checkKey accepts the keys that mean the same on every store: slash
// separated names, none empty, "." or "..", without a leading slash,
// backslashes or control characters. A prefix may end with a slash.
func checkKey(key string, prefix bool) error {
	if key == "" && prefix {
		return nil
	}
	if prefix {
		key = strings.TrimSuffix(key, "/")
	}
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("key %q must be 1 to 1024 bytes", key)
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return fmt.Errorf("key %q holds a control character or a backslash", key)
	}
	for name := range strings.SplitSeq(key, "/") {
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("key %q must be names separated by single slashes, none of them . or .., without a leading slash", key)
		}
	}
	return nil
}

// counting is a store that counts the bytes read from it.
type counting struct {
	Store
	read atomic.Int64
}

func (c *counting) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := c.Store.Get(ctx, key)
	c.read.Add(int64(len(data)))
	return data, err
}
