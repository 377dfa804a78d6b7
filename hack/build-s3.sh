#!/usr/bin/env bash
# Builds the S3-compatible server the archive's tests run against: the
# Versity S3 Gateway (github.com/versity/versitygw, Apache-2.0) with its
# posix backend, which keeps buckets as directories, honours If-None-Match
# on PUT and enforces S3 Object Lock retention. It comes from the Go module
# proxy only, built in a throwaway module, into bin/versitygw.
# Idempotent: a binary that reports $VERSITYGW_VERSION is kept.
# About 2 minutes on 2 cores the first time.
set -euo pipefail

VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${LOCALBIN:-$ROOT/bin}"
GO="${GO:-go}"

log() { printf '[s3] %s\n' "$*" >&2; }

if [[ -x "$OUT/versitygw" ]] && [[ "$("$OUT/versitygw" --version 2>/dev/null)" == *"Version  : $VERSITYGW_VERSION"* ]]; then
  log "versitygw $VERSITYGW_VERSION already built in $OUT"
  echo "$OUT/versitygw"
  exit 0
fi

log "building versitygw $VERSITYGW_VERSION (about 2 minutes the first time)"
mkdir -p "$OUT"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  "$GO" mod init local/build-versitygw >/dev/null 2>&1
  "$GO" get "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >/dev/null 2>&1 || "$GO" get "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  CGO_ENABLED=0 "$GO" build -trimpath \
    -ldflags="-s -w -X main.Version=$VERSITYGW_VERSION -X main.Build=module-proxy" \
    -o "$OUT/versitygw.tmp" github.com/versity/versitygw/cmd/versitygw
)
mv "$OUT/versitygw.tmp" "$OUT/versitygw"
log "versitygw ready: $OUT/versitygw"
echo "$OUT/versitygw"
