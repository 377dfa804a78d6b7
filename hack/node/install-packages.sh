#!/usr/bin/env bash
# Installs what `make test-node` runs a node with, from Debian's packages:
# containerd and runc run the Pods, containernetworking-plugins gives them
# the bridge network, iptables and conntrack serve kube-proxy. Nothing is
# started or configured here: the tests run their own containerd with its
# own config, root, state and socket, and leave the system's alone.
set -euo pipefail

PACKAGES=(containerd runc containernetworking-plugins iptables conntrack)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
  sudo=(sudo)
fi
echo "[node] installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
# The package may enable containerd's own service; where systemd runs, that
# is the system's containerd, which the tests never talk to.
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
