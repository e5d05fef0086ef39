#!/usr/bin/env bash
# Builds the image that runs the official Node.js SDK's flow (sdk/node-flow/flow.js) as a
# microservice, without pulling anything: this machine's Node.js binary with exactly the shared
# libraries ldd lists for it, the static busybox for /bin/sh and ping (the SDK's init runs
# `ping -c 3 <host>` through a shell), and the SDK with its dependencies installed by npm into the
# build tree. No network inside the container.
# Usage: scripts/build-node-sdk-image.sh <name:tag>
# Environment:
#   IOFOG_NODE_SDK     what npm installs (default @datasance/iofog-nodejs-sdk@3.0.1): a registry
#                      spec, or a path to a package tarball or a directory holding the SDK's
#                      package.json; @datasance/iofog-nodejs-sdk or @iofog/nodejs-sdk
#   IOFOG_BUILD_DIR    build tree for the image context (default build/ci)
# Exits 77 when the SDK cannot be installed (the registry does not serve it and no local copy was
# given): the test that needs the image is then reported as skipped, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    [ $# -eq 1 ] && exit 0 || exit 2
fi
name=$1
build=${IOFOG_BUILD_DIR:-build/ci}
sdk=${IOFOG_NODE_SDK:-@datasance/iofog-nodejs-sdk@3.0.1}
ctx="$build/images/node-flow"
root="$ctx/rootfs"

node=$(command -v node || true)
if [ -z "$node" ] || ! command -v npm >/dev/null; then
    echo "build-node-sdk-image: node and npm are missing (scripts/install-deps.sh)" >&2
    exit 1
fi
busybox=${IOFOG_BUSYBOX:-/bin/busybox}
ldd_out=$(ldd "$busybox" 2>&1 || true)
if [ ! -x "$busybox" ] || ! grep -qE 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
    echo "build-node-sdk-image: $busybox is not a static binary (install busybox-static)" >&2
    exit 1
fi

rm -rf "$ctx"
mkdir -p "$root/bin" "$root/usr/bin" "$root/etc" "$root/tmp" "$root/app" "$root/proc" "$root/sys" \
    "$root/dev"
chmod 1777 "$root/tmp"

# A directory is packed first: npm would install it as a symbolic link out of the image.
ctx_abs=$(cd "$ctx" && pwd)
if [ -d "$sdk" ]; then
    tgz=$(cd "$sdk" && npm pack --silent --pack-destination "$ctx_abs" | tail -n1)
    sdk="$ctx_abs/$tgz"
fi
echo '{"name":"iofog-node-flow","version":"0.0.0","private":true}' >"$root/app/package.json"
npm_log="$ctx/npm-install.log"
if ! npm install --prefix "$root/app" --omit=dev --no-audit --no-fund --no-package-lock \
    --no-save "$sdk" >"$npm_log" 2>&1; then
    if grep -q 'E404' "$npm_log"; then
        echo "build-node-sdk-image: the registry does not serve $sdk; set IOFOG_NODE_SDK to a" \
            "tarball or directory of the SDK (see docs/sdk.md)" >&2
        exit 77
    fi
    cat "$npm_log" >&2
    exit 1
fi
# The names flow.js looks for, in its order.
sdk_name=
for n in @datasance/iofog-nodejs-sdk @iofog/nodejs-sdk; do
    if [ -f "$root/app/node_modules/$n/package.json" ]; then
        sdk_name=$n
        break
    fi
done
[ -n "$sdk_name" ] || {
    echo "build-node-sdk-image: $sdk installed neither @datasance/iofog-nodejs-sdk nor" \
        "@iofog/nodejs-sdk" >&2
    exit 1
}
sdk_version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$root/app/node_modules/$sdk_name/package.json" | head -n1)
cp sdk/node-flow/flow.js "$root/app/flow.js"

cp -L "$node" "$root/usr/bin/node"
# ldd prints "name => /path (addr)" and, for the loader, "/path (addr)".
ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
    while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
# Debian's Node.js keeps some of its own JavaScript outside the binary ("externalized builtins":
# /usr/share/nodejs/cjs-module-lexer, undici, acorn ...) and aborts at start without them; other
# builds name none. Every such file the binary or its libraries name goes into the image too.
builtins=$({ echo "$node"; ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'; } |
    xargs grep -aoh '/usr/share/nodejs/[A-Za-z0-9_./@-]*\.js' 2>/dev/null | sort -u || true)
for js in $builtins; do
    [ -f "$js" ] || continue
    mkdir -p "$root$(dirname "$js")"
    cp -L "$js" "$root$js"
done
cp "$busybox" "$root/bin/busybox"
for applet in sh ping cat sleep; do
    ln -sf busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo "hosts: files dns" >"$root/etc/nsswitch.conf"

tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/bin:/usr/bin' \
    --change 'WORKDIR /app' \
    --change 'CMD ["/usr/bin/node","/app/flow.js"]' - "$name" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$name")
echo "built $name: node $("$node" --version), $sdk_name $sdk_version ($((size / 1024 / 1024)) MiB)"
