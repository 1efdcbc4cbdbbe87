#!/usr/bin/env bash
# Prints the path of a Consul 1.14.11 binary, building it first if it is not
# cached. Consul 1.14.11 is the last MPL-2.0 release (1.15 and later are
# BUSL), and no Debian package has it, so it is built from the Go module
# proxy in a throw-away module: about 8 minutes cold on two cores, instant
# once cached. The cache lives outside the repository:
# ${XDG_CACHE_HOME:-$HOME/.cache}/kitshop/consul-1.14.11
set -euo pipefail
version=1.14.11
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kitshop"
bin="$cache/consul-$version"
if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "Consul v$version"; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache"
# One build at a time: a second caller waits for the first and then finds
# the binary.
exec 9>"$cache/consul.lock"
flock 9
if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "Consul v$version"; then
  echo "$bin"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  go mod init consul-build >/dev/null 2>&1
  go get "github.com/hashicorp/consul@v$version" >&2
  CGO_ENABLED=0 go build -o "$bin.tmp.$$" github.com/hashicorp/consul >&2
)
mv "$bin.tmp.$$" "$bin"
"$bin" version >&2
echo "$bin"
