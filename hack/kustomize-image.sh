#!/usr/bin/env bash
# Prints the kustomize images: entry that replaces the manager's placeholder
# image (controller) with IMG, given as a container engine takes it:
#   registry.local:5000/incident-operator:v1  -> newName registry.local:5000/incident-operator, newTag v1
#   ghcr.io/incidentops/incident-operator@sha256:...      -> newName ..., digest sha256:...
#   ghcr.io/incidentops/incident-operator:v1@sha256:...   -> newName ..., newTag v1, digest sha256:...
# A colon is a tag's only when no slash follows it; before that it is a
# registry's port.
set -euo pipefail

img="${1:?usage: $0 IMG}"
name="$img" tag="" digest=""
if [[ "$name" == *@* ]]; then
  digest="${name#*@}"
  name="${name%%@*}"
fi
last="${name##*/}"
if [[ "$last" == *:* ]]; then
  tag="${last##*:}"
  name="${name%:*}"
fi
# The grammar of github.com/distribution/reference: lower-case path
# components, a tag of word characters, dots and dashes, a sha256 digest
# of 64 hex digits.
component='[a-z0-9]+([._]|__|-+)*[a-z0-9]*'
if [[ -z "$name" || "$name" == */ || "$name" == *://* \
  || ! "${name#*/}" =~ ^${component}(/${component})*$ \
  || ( "$img" == *@* && ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ) \
  || ( "$last" == *:* && ! "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ) ]]; then
  echo "$0: IMG=$img is not an image reference: want [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], repository in lower case" >&2
  exit 1
fi

# Quoted: a tag such as 1.0 or 20261123 is a string, not a YAML number.
echo "images:"
echo "  - name: controller"
echo "    newName: \"$name\""
if [[ -n "$tag" ]]; then echo "    newTag: \"$tag\""; fi
if [[ -n "$digest" ]]; then echo "    digest: \"$digest\""; fi
