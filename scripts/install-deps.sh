#!/usr/bin/env bash
# Installs everything the project, its tests, its fuzzers and its demo use, from Debian's packages only.
# Idempotent: packages already present are left alone and apt is not touched at all when nothing is missing.
# Usage: scripts/install-deps.sh [--check]   (--check lists missing packages and exits 1 if any)
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config git ca-certificates clang-format
    # libraries
    libmicrohttpd-dev libwslay-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev
    libyaml-dev libssl-dev libargon2-dev uuid-dev libnats-dev libcmocka-dev zlib1g-dev
    # fuzzing and sanitizer runtimes for clang
    clang libclang-rt-14-dev libfuzzer-14-dev
    # servers and tools the tests and the demo start
    postgresql nats-server docker.io docker-registry busybox-static curl python3 sqlite3 procps iproute2 openssl
    # scripts/fresh-check.sh (a minimal bookworm root file system for CI's first-run check)
    debootstrap
    # benchmarks
    wrk
    # scripts/scale-out.sh and its fault tests (Controllers behind a load balancer)
    haproxy
    # packaging checks (scripts/package.sh, packaging/check.sh; systemd-analyze comes with systemd)
    lintian systemd
    # promtool (packaging/promtool_test.sh checks both /metrics outputs with it)
    prometheus
    # the web console's browser test (e2e/console_test.sh: Chromium driven by playwright-core)
    chromium
)
# The Node.js SDK test (sdk/node_e2e_test.c) copies this machine's node into an image and installs
# the SDK with npm; Debian's packages when there are none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

# From the npm registry, pinned: the web console the Controller serves (--viewer-dir) and the
# browser test's driver. Each goes into its own directory under /usr/local/share.
ecn_viewer=@iofog/ecn-viewer@3.0.2
ecn_viewer_dir=/usr/local/share/iofog-ecn-viewer
playwright=playwright-core@1.60.0
playwright_dir=/usr/local/share/iofog-playwright

# Whether npm package $1 (name@version) is installed with package.json $2.
npm_has() { grep -qs "\"version\": *\"${1##*@}\"" "$2"; }
npm_missing() {
    npm_has "$ecn_viewer" "$ecn_viewer_dir/package.json" || echo "$ecn_viewer"
    npm_has "$playwright" "$playwright_dir/node_modules/playwright-core/package.json" || echo "$playwright"
}
# npm trusts the system's certificate store (Debian's, with any local CA an HTTPS proxy needs).
npm_opts=(--no-audit --no-fund)
[ -f /etc/ssl/certs/ca-certificates.crt ] && npm_opts+=(--cafile /etc/ssl/certs/ca-certificates.crt)
# A registry that cannot be reached leaves the web console and its browser test out (the demo
# says so, e2e_console fails naming the missing directory); everything else is installed.
npm_install() {
    local tmp
    if ! npm_has "$ecn_viewer" "$ecn_viewer_dir/package.json"; then
        echo "install-deps: $ecn_viewer into $ecn_viewer_dir"
        tmp=$(mktemp -d)
        if (cd "$tmp" && npm pack --loglevel error "${npm_opts[@]}" "$ecn_viewer" >/dev/null); then
            rm -rf "$ecn_viewer_dir"
            mkdir -p "$ecn_viewer_dir"
            tar -xzf "$tmp"/*.tgz --no-same-owner --strip-components=1 -C "$ecn_viewer_dir"
        else
            echo "install-deps: WARNING: npm pack $ecn_viewer failed: no web console" >&2
        fi
        rm -rf "$tmp"
    fi
    if ! npm_has "$playwright" "$playwright_dir/node_modules/playwright-core/package.json"; then
        echo "install-deps: $playwright into $playwright_dir"
        mkdir -p "$playwright_dir"
        npm install --loglevel error --prefix "$playwright_dir" --no-save "${npm_opts[@]}" \
            "$playwright" >/dev/null ||
            echo "install-deps: WARNING: npm install $playwright failed: no browser test" >&2
    fi
}

case "${1:-}" in
    -h|--help)
        sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
esac

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${1:-}" = "--check" ]; then
    missing+=($(command -v npm >/dev/null 2>&1 && npm_missing || true))
    if [ ${#missing[@]} -gt 0 ]; then echo "missing: ${missing[*]}"; exit 1; fi
    echo "all dependencies installed"; exit 0
fi

if [ ${#missing[@]} -eq 0 ] && [ -z "$(npm_missing)" ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages (${missing[*]} $(npm_missing | tr '\n' ' ')); run as root" >&2
    exit 1
fi
if [ ${#missing[@]} -eq 0 ]; then
    npm_install
    echo "install-deps: done"
    exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The postgresql package would start a cluster service; tests run their own servers on loopback,
# so service starts during installation are refused where policy-rc.d is honoured.
apt-get install -y -q --no-install-recommends "${missing[@]}"
npm_install
echo "install-deps: done"
