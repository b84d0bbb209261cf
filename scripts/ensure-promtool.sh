#!/usr/bin/env bash
# Makes sure promtool (Prometheus's metric linter) is on the machine and prints its path.
# node/api's metrics test runs it on the /metrics output. Debian's "prometheus" package ships
# /usr/bin/promtool; this installs it when missing and fails loudly when it cannot.
set -euo pipefail

find_promtool() {
  if [ -n "${PROMTOOL:-}" ] && [ -x "$PROMTOOL" ]; then echo "$PROMTOOL"; return 0; fi
  command -v promtool 2>/dev/null && return 0
  [ -x /usr/bin/promtool ] && { echo /usr/bin/promtool; return 0; }
  return 1
}

if p=$(find_promtool); then
  echo "$p"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-promtool: promtool is missing and apt-get is not available; install Prometheus's promtool or set PROMTOOL" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "ensure-promtool: promtool is missing and this user cannot run apt-get (not root, no sudo)" >&2
    exit 1
  fi
fi
echo "ensure-promtool: installing Debian's prometheus package for promtool" >&2
export DEBIAN_FRONTEND=noninteractive
# The package's postinst would start a Prometheus server where init scripts run. Only promtool
# is wanted, so a policy-rc.d that answers 101 ("not allowed") keeps invoke-rc.d from starting
# it; one the machine already has is left alone.
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ] && [ -z "$sudo" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
fi
cleanup() { [ -n "$ours" ] && rm -f "$policy"; return 0; }
trap cleanup EXIT
$sudo apt-get update -qq >&2 || true
if ! $sudo apt-get install -y -qq --no-install-recommends prometheus >&2; then
  echo "ensure-promtool: apt-get install prometheus failed" >&2
  exit 1
fi
if p=$(find_promtool); then
  echo "$p"
  exit 0
fi
echo "ensure-promtool: prometheus installed but promtool still not found" >&2
exit 1
