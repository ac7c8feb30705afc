#!/bin/sh
# Installs the Debian packages that the integration tests run for real: nginx and Caddy (the
# proxies in front of the service), PHP, Python and curl for the documented signing snippets (run
# against the service), Chromium for the signing page's browser tests (driven by playwright-core,
# no browser download), libfaketime for the clock tests, redis-server for the shared state
# (revocations and limits; the tests start their own on free ports), openssl for its TLS
# test's certificates and ffmpeg, the player that reads HLS and DASH streams through nginx (and
# makes them). Checks for kubectl (kustomize).
# Idempotent; `npm test` runs it first and CI runs it through `npm test`.
set -eu
missing=""
[ -x /usr/sbin/nginx ] || [ -x /usr/bin/nginx ] || missing="$missing nginx"
[ -x /usr/bin/caddy ] || missing="$missing caddy"
command -v php >/dev/null 2>&1 || missing="$missing php-cli"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 ] ||
  missing="$missing faketime"
[ -x /usr/bin/redis-server ] || missing="$missing redis-server"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v ffmpeg >/dev/null 2>&1 || missing="$missing ffmpeg"
# kubectl renders the Kubernetes kit with its built-in kustomize (v5: components, labels). Debian's
# kubernetes-client (1.20) embeds kustomize 2, too old; the kubectl of Kubernetes' own packages is.
if ! kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v5'; then
  echo "install-test-deps: test/deploy/kubernetes.test.ts needs kubectl with kustomize v5 (kubectl 1.27 or newer) on PATH" >&2
  exit 1
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-test-deps: missing$missing; run as root: apt-get install$missing" >&2
  exit 1
fi
echo "install-test-deps: installing$missing with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The tests start nginx and Caddy themselves on loopback ports; keep the packages from starting daemons.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
