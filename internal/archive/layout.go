package archive

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/incidentops/incident-operator/internal/translog"
)

// tileHeight is the height of the tiles: 256 hashes each, as C2SP
// tlog-tiles fixes it.
const tileHeight = 8

// tileWidth is the number of hashes in a completed tile.
const tileWidth = 1 << tileHeight

func batchesPrefix(log string) string     { return log + "/batches/" }
func checkpointsPrefix(log string) string { return log + "/checkpoints/" }
func cosignedPrefix(log string) string    { return log + "/cosigned/" }

// cosignedKey is where the checkpoint at size, as a witness cosigned it, is
// kept.
func cosignedKey(log string, size int64) string {
	return fmt.Sprintf("%s%019d", cosignedPrefix(log), size)
}

// batchKey is where the batch beginning at first is kept.
func batchKey(log string, first int64) string { return batchesPrefix(log) + translog.BatchName(first) }

// checkpointKey is where the checkpoint at size is kept: zero padded as
// batch names are, so that listing them lists them by size.
func checkpointKey(log string, size int64) string {
	return fmt.Sprintf("%s%019d", checkpointsPrefix(log), size)
}

// tileKey is where a completed tile is kept, as C2SP tlog-tiles names it:
// tlog's path without the height, which tlog-tiles fixes at 8.
func tileKey(log string, level int, n int64) string {
	path := tlog.Tile{H: tileHeight, L: level, N: n, W: tileWidth}.Path()
	return log + "/tile/" + strings.TrimPrefix(path, "tile/"+strconv.Itoa(tileHeight)+"/")
}

// batchFirst reads the first index from a batch's key.
func batchFirst(log, key string) (int64, error) {
	name := strings.TrimPrefix(key, batchesPrefix(log))
	digits, ok := strings.CutPrefix(name, "log-")
	first, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || first < 0 || translog.BatchName(first) != name {
		return 0, fmt.Errorf("%s is not named as a batch is", key)
	}
	return first, nil
}

// checkpointSize reads the size from a checkpoint's key.
func checkpointSize(log, key string) (int64, error) {
	digits := strings.TrimPrefix(key, checkpointsPrefix(log))
	size, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || size < 0 || checkpointKey(log, size) != key {
		return 0, fmt.Errorf("%s is not named as a checkpoint is", key)
	}
	return size, nil
}
