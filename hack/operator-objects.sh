#!/usr/bin/env bash
# Filters the multi-document YAML of `kubectl kustomize config/default` on
# stdin down to the operator's own objects: it drops every
# CustomResourceDefinition (deleting one deletes every object of its kind:
# the organisation's incidents, evidence and audit trails) and the
# Namespace (it holds the audit signing key, without which the trails
# cannot be verified).
set -euo pipefail

awk '
  function flush() {
    if (doc != "" && !keep_out) printf "---\n%s", doc
    doc = ""; keep_out = 0
  }
  /^---$/ { flush(); next }
  /^kind: (CustomResourceDefinition|Namespace)$/ { keep_out = 1 }
  { doc = doc $0 "\n" }
  END { flush() }
'
