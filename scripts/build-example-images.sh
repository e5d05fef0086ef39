#!/usr/bin/env bash
# Builds the example microservice images iofog-example/<name>:<tag> without pulling anything:
# FROM scratch with the binary, exactly the shared libraries ldd lists for it (the dynamic loader
# included) and an /etc/nsswitch.conf, so the name `iofog` resolves from the /etc/hosts entry the
# Agent adds.
# Usage: scripts/build-example-images.sh [sensor|viewer|config-echo ...]   (default: all three)
# Environment: IOFOG_BUILD_DIR (default build/ci), IOFOG_IMAGE_TAG (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${IOFOG_BUILD_DIR:-build/ci}
tag=${IOFOG_IMAGE_TAG:-1}
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(sensor viewer config-echo)

targets=()
for e in "${examples[@]}"; do
    [ -f "examples/$e/main.c" ] || { echo "no example named $e" >&2; exit 2; }
    targets+=("example_${e//-/_}")
done
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DIOFOG_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

for e in "${examples[@]}"; do
    bin="$build/examples/$e/$e"
    ctx="$build/images/$e"
    rm -rf "$ctx"
    mkdir -p "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/rootfs/usr/local/lib"
    chmod 1777 "$ctx/rootfs/tmp"
    install -m 0755 "$bin" "$ctx/rootfs/$e"
    # ldd prints "name => /path (addr)" and, for the loader, "/path (addr)".
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
        while read -r lib; do
            case "$lib" in
                /lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) dest="$ctx/rootfs$lib" ;;
                *) dest="$ctx/rootfs/usr/local/lib/$(basename "$lib")" ;; # libiofog from the build tree
            esac
            mkdir -p "$(dirname "$dest")"
            cp -L "$lib" "$dest"
        done
    echo "hosts: files dns" >"$ctx/rootfs/etc/nsswitch.conf"
    cp "examples/$e/Dockerfile" "$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "iofog-example/$e:$tag" "$ctx" >/dev/null
    size=$(docker image inspect -f '{{.Size}}' "iofog-example/$e:$tag")
    echo "built iofog-example/$e:$tag ($((size / 1024)) KiB, $(find "$ctx/rootfs" -name '*.so*' | wc -l) libraries)"
done
