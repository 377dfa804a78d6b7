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
if [[ -z "$name" || "$name" == */ || ( "$img" == *@* && "$digest" != sha256:* ) || ( "$last" == *:* && -z "$tag" ) ]]; then
  echo "$0: $img is not an image reference (name[:tag][@sha256:digest])" >&2
  exit 1
fi

echo "images:"
echo "  - name: controller"
echo "    newName: $name"
if [[ -n "$tag" ]]; then echo "    newTag: $tag"; fi
if [[ -n "$digest" ]]; then echo "    digest: $digest"; fi
