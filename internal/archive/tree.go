package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// tree is an archived log's Merkle tree at a size: its completed tiles in
// the store, and its right edge, the hashes of the tiles not completed
// yet, which no object holds. It reads any stored hash of a subtree that
// is complete at its size, as tlog's proofs and roots ask for them.
type tree struct {
	// ctx is the context of the reads a tlog.HashReader cannot be given.
	ctx   context.Context
	store Store
	log   string
	size  int64

	// edges[L] are the hashes at level 8L that level L's tile not yet
	// completed begins with; nil until read. leaves gives edges[0]: the
	// record hashes of the entries after the last completed tile.
	edges  [][]tlog.Hash
	leaves func() ([]tlog.Hash, error)

	tiles map[tileID][]tlog.Hash
}

type tileID struct {
	level int
	n     int64
}

// TileError is a completed tile that cannot be read: missing or damaged.
type TileError struct {
	Key string
	// First and Last are the entries the tile's hashes cover.
	First, Last int64
	Err         error
}

func (e *TileError) Error() string {
	return fmt.Sprintf("tile %s of entries %d-%d: %v", e.Key, e.First, e.Last, e.Err)
}
func (e *TileError) Unwrap() error { return e.Err }

// span is the entries that tile n of level covers.
func span(level int, n int64) (first, last int64) {
	shift := tileHeight * (level + 1)
	return n << shift, (n+1)<<shift - 1
}

// completed says whether tile n of level is complete in a tree of size.
func completed(level int, n, size int64) bool {
	return n < size>>(tileHeight*(level+1))
}

// tile reads a completed tile's hashes.
func (t *tree) tile(level int, n int64) ([]tlog.Hash, error) {
	id := tileID{level, n}
	if hashes, ok := t.tiles[id]; ok {
		return hashes, nil
	}
	key := tileKey(t.log, level, n)
	first, last := span(level, n)
	data, err := t.store.Get(t.ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			err = errors.New("missing: it was deleted, or never written")
		}
		return nil, &TileError{key, first, last, err}
	}
	if len(data) != tileWidth*tlog.HashSize {
		return nil, &TileError{key, first, last, fmt.Errorf("it holds %d bytes, a tile %d", len(data), tileWidth*tlog.HashSize)}
	}
	hashes := make([]tlog.Hash, tileWidth)
	for i := range hashes {
		copy(hashes[i][:], data[i*tlog.HashSize:])
	}
	if t.tiles == nil {
		t.tiles = map[tileID][]tlog.Hash{}
	}
	t.tiles[id] = hashes
	return hashes, nil
}

// edge is edges[level], read when first needed: the record hashes of the
// last entries, or the roots of the completed tiles a level below.
func (t *tree) edge(level int) ([]tlog.Hash, error) {
	for len(t.edges) <= level {
		t.edges = append(t.edges, nil)
	}
	count := (t.size >> (tileHeight * level)) % tileWidth
	if int64(len(t.edges[level])) == count {
		return t.edges[level], nil
	}
	if level == 0 {
		if t.leaves == nil {
			return nil, fmt.Errorf("the last %d entries of the tree at %d are not known", count, t.size)
		}
		leaves, err := t.leaves()
		if err != nil {
			return nil, err
		}
		if int64(len(leaves)) != count {
			return nil, fmt.Errorf("the edge of the tree at %d has %d entries, want %d", t.size, len(leaves), count)
		}
		t.edges[0] = leaves
		return leaves, nil
	}
	base := (t.size >> (tileHeight * level)) - count
	roots := make([]tlog.Hash, count)
	for i := range roots {
		below, err := t.tile(level-1, base+int64(i))
		if err != nil {
			return nil, err
		}
		roots[i] = root(below)
	}
	t.edges[level] = roots
	return roots, nil
}

// ReadHashes reads stored hashes of subtrees complete at the tree's size.
func (t *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		level, n := tlog.SplitStoredHashIndex(x)
		h, err := t.node(level, n)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// node is the hash of the subtree at level whose entries are n<<level to
// (n+1)<<level: the root of 1<<(level%8) hashes at level 8(level/8), all in
// one tile.
func (t *tree) node(level int, n int64) (tlog.Hash, error) {
	if level >= 63 || n < 0 || n >= t.size>>level {
		return tlog.Hash{}, fmt.Errorf("subtree %d at level %d is not complete in a log of %d entries", n, level, t.size)
	}
	tileLevel, count := level/tileHeight, int64(1)<<(level%tileHeight)
	first := n * count
	tn := first / tileWidth
	var hashes []tlog.Hash
	if completed(tileLevel, tn, t.size) {
		tile, err := t.tile(tileLevel, tn)
		if err != nil {
			return tlog.Hash{}, err
		}
		hashes = tile[first%tileWidth:]
	} else {
		edge, err := t.edge(tileLevel)
		if err != nil {
			return tlog.Hash{}, err
		}
		hashes = edge[first%tileWidth:]
	}
	return root(hashes[:count]), nil
}

// add appends an entry's record hash to a tree whose edges are all read,
// and returns the tiles it completes, each with its hashes.
func (t *tree) add(h tlog.Hash) []completedTile {
	var done []completedTile
	t.size++
	for level := 0; ; level++ {
		if level == len(t.edges) {
			t.edges = append(t.edges, nil)
		}
		t.edges[level] = append(t.edges[level], h)
		if len(t.edges[level]) < tileWidth {
			return done
		}
		n := t.size>>(tileHeight*(level+1)) - 1
		done = append(done, completedTile{level, n, t.edges[level]})
		h = root(t.edges[level])
		t.edges[level] = nil
	}
}

// readEdges reads every level's edge, so that add can extend the tree.
func (t *tree) readEdges() error {
	for level := 0; t.size>>(tileHeight*level) > 0; level++ {
		if _, err := t.edge(level); err != nil {
			return err
		}
	}
	return nil
}

// clone is a copy whose edges can grow without changing t's.
func (t *tree) clone() *tree {
	c := *t
	c.edges = make([][]tlog.Hash, len(t.edges))
	for i, e := range t.edges {
		c.edges[i] = slices.Clone(e)
	}
	c.tiles = nil
	return &c
}

type completedTile struct {
	level  int
	n      int64
	hashes []tlog.Hash
}

func (c completedTile) data() []byte {
	data := make([]byte, 0, len(c.hashes)*tlog.HashSize)
	for _, h := range c.hashes {
		data = append(data, h[:]...)
	}
	return data
}

// root is the Merkle root of a power of two hashes.
func root(hashes []tlog.Hash) tlog.Hash {
	if len(hashes) == 1 {
		return hashes[0]
	}
	half := len(hashes) / 2
	return tlog.NodeHash(root(hashes[:half]), root(hashes[half:]))
}
