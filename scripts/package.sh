#!/usr/bin/env bash
# Builds the Debian packages iofog-controller, iofog-agent, libiofog0 and libiofog-dev from this
# tree with dpkg-deb (no network): binaries stripped, Depends computed by dpkg-shlibdeps, conffiles
# /etc/iofog-controller/controller.json and /etc/iofog-agent/config.json, systemd units from
# packaging/systemd, maintainer scripts from packaging/deb. See docs/packaging.md.
# Usage: scripts/package.sh [--build-dir DIR] [--out DIR] [--no-build]
#   --build-dir DIR  CMake build to take the binaries from (default build/pkg, configured Release
#                    without tests when it does not exist yet)
#   --out DIR        where the .deb files go (default <build-dir>/packages)
#   --no-build       use the build's binaries as they are
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build=build/pkg
out=
do_build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-build) do_build=0; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$build" in /*) ;; *) build=$root/$build ;; esac
out=${out:-$build/packages}
case "$out" in /*) ;; *) out=$root/$out ;; esac

if [ "$do_build" = 1 ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DIOFOG_TESTS=OFF >/dev/null
    fi
    cmake --build "$build" -j2 --target iofog-controller iofog-agent iofog_shared iofog_static \
        >/dev/null
fi

version=$(sed -n 's/^project(iofog-edge VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
sdk_version=$(sed -n 's/^set(IOFOG_SDK_VERSION \([0-9.]*\))/\1/p' sdk/CMakeLists.txt)
soversion=$(sed -n 's/^set(IOFOG_SDK_SOVERSION \([0-9]*\))/\1/p' sdk/CMakeLists.txt)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# The Maintainer field; set IOFOG_DEB_MAINTAINER to the name and address of whoever publishes them.
maintainer=${IOFOG_DEB_MAINTAINER:-"iofog-edge developers <iofog-edge@example.org>"}
[ -n "$version" ] && [ -n "$sdk_version" ] && [ -n "$soversion" ] || {
    echo "package: cannot read the versions from CMakeLists.txt" >&2
    exit 1
}
# Native packages, stamped with the commit time so rebuilds of one commit are identical.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

for f in controller/iofog-controller agent/iofog-agent sdk/libiofog.so.$sdk_version sdk/libiofog.a; do
    [ -f "$build/$f" ] || { echo "package: $build/$f missing (build first)" >&2; exit 1; }
done

stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage" "$out"
rm -f "$out"/*.deb

# Writes /usr/share/doc/<pkg>/{copyright,changelog.gz} into the staged package $1.
docs() {
    local pkg=$1 doc=$stage/$1/usr/share/doc/$1
    mkdir -p "$doc"
    cat >"$doc/copyright" <<EOF
iofog-edge: an edge compute platform in C, compatible with Eclipse ioFog.

Copyright $(date -u +%Y -d "@$SOURCE_DATE_EPOCH") the iofog-edge authors.
Source: the iofog-edge repository this package was built from.
License: the terms stated in that repository apply.
EOF
    {
        echo "$pkg ($2) unstable; urgency=medium"
        echo
        echo "  * Built from the iofog-edge tree by scripts/package.sh."
        echo
        echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
    } | gzip -9n >"$doc/changelog.gz"
    chmod 0644 "$doc/copyright" "$doc/changelog.gz"
}

# The shlibs:Depends dpkg-shlibdeps computes for the ELF files given (it wants a debian/control).
shlibdeps() {
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/debian"
    printf 'Source: iofog-edge\n\nPackage: x\nArchitecture: any\n' >"$tmp/debian/control"
    (cd "$tmp" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
    rm -rf "$tmp"
}

# Writes DEBIAN/control (plus md5sums) for staged package $1 and builds its .deb.
# $2 version, $3 Section, $4 Depends, $5 short description, $6 long description, $7 extra fields.
build_deb() {
    local pkg=$1 dir=$stage/$1
    local size
    mkdir -p "$dir/DEBIAN"
    (cd "$dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
        xargs -0r md5sum >DEBIAN/md5sums)
    [ -s "$dir/DEBIAN/md5sums" ] || rm -f "$dir/DEBIAN/md5sums"
    size=$(du -sk --exclude=DEBIAN "$dir" | cut -f1)
    {
        echo "Package: $pkg"
        echo "Version: $2"
        echo "Architecture: $arch"
        echo "Maintainer: $maintainer"
        echo "Installed-Size: $size"
        [ -n "$4" ] && echo "Depends: $4"
        [ -n "${7:-}" ] && printf '%s\n' "$7"
        echo "Section: $3"
        echo "Priority: optional"
        echo "Homepage: https://iofog.org/"
        echo "Description: $5"
        printf '%s\n' "$6" | sed 's/^$/./; s/^/ /'
    } >"$dir/DEBIAN/control"
    find "$dir" -type d -exec chmod 0755 {} +
    find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    chmod 0644 "$dir/DEBIAN/control"
    [ -f "$dir/DEBIAN/md5sums" ] && chmod 0644 "$dir/DEBIAN/md5sums"
    dpkg-deb --root-owner-group -Zxz --build "$dir" "$out/${pkg}_$2_$arch.deb" >/dev/null
}

# Maintainer scripts for a service package $1 from packaging/deb/*.in: data directories $2,
# conffile link command $3.
maint_scripts() {
    local pkg=$1 s
    local text
    for s in postinst prerm postrm; do
        text=$(<"packaging/deb/$s.in")
        text=${text//@PKG@/$pkg}
        text=${text//@DIRS@/$2}
        text=${text//@LINK@/$3}
        printf '%s\n' "$text" >"$stage/$pkg/DEBIAN/$s"
        chmod 0755 "$stage/$pkg/DEBIAN/$s"
    done
}

install_bin() { # $1 source ELF, $2 destination
    install -D -m 0755 "$1" "$2"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2"
}

# --- iofog-controller ------------------------------------------------------------------------
p=iofog-controller
install_bin "$build/controller/iofog-controller" "$stage/$p/usr/bin/iofog-controller"
install -D -m 0644 packaging/deb/$p/controller.json "$stage/$p/etc/$p/controller.json"
install -D -m 0644 packaging/systemd/$p.service "$stage/$p/lib/systemd/system/$p.service"
docs $p "$version"
install -m 0644 docs/packaging.md "$stage/$p/usr/share/doc/$p/README.Debian"
mkdir -p "$stage/$p/DEBIAN"
echo "/etc/$p/controller.json" >"$stage/$p/DEBIAN/conffiles"
chmod 0644 "$stage/$p/DEBIAN/conffiles"
# The Controller reads <data-dir>/controller.json: a link there points at the conffile (created
# only when nothing is there, so a file an administrator put in its place stays).
link="[ -e /var/lib/$p/controller.json ] || [ -L /var/lib/$p/controller.json ] || ln -s /etc/$p/controller.json /var/lib/$p/controller.json"
maint_scripts $p "/var/lib/$p" "$link"
deps=$(shlibdeps -e"$stage/$p/usr/bin/iofog-controller")
build_deb $p "$version" net "adduser, $deps" \
    "ioFog-compatible Controller for edge compute networks" \
    "The Controller keeps the catalog of microservice images, the container
registries, the edge nodes and the applications of an edge compute network,
and serves the ioFog REST API (/api/v3) that iofogctl and the Agents use.
It stores its data in SQLite (default) or PostgreSQL.

The service runs as the system user iofog-controller with its data in
/var/lib/iofog-controller; its configuration is
/etc/iofog-controller/controller.json." \
    "Recommends: systemd"

# --- iofog-agent -----------------------------------------------------------------------------
p=iofog-agent
install_bin "$build/agent/iofog-agent" "$stage/$p/usr/bin/iofog-agent"
install -D -m 0644 packaging/deb/$p/config.json "$stage/$p/etc/$p/config.json"
install -D -m 0644 packaging/systemd/$p.service "$stage/$p/lib/systemd/system/$p.service"
docs $p "$version"
install -m 0644 docs/packaging.md "$stage/$p/usr/share/doc/$p/README.Debian"
mkdir -p "$stage/$p/DEBIAN"
echo "/etc/$p/config.json" >"$stage/$p/DEBIAN/conffiles"
chmod 0644 "$stage/$p/DEBIAN/conffiles"
maint_scripts $p "/etc/$p /var/lib/$p /var/log/$p" ":"
deps=$(shlibdeps -e"$stage/$p/usr/bin/iofog-agent")
build_deb $p "$version" net "adduser, $deps" \
    "ioFog-compatible Agent running microservices on an edge node" \
    "The Agent runs the microservices an ioFog Controller assigns to this edge
node as Docker containers, hands each its configuration, serves the Local API
(/v2, port 54321) and carries ioMessages between microservices on the node
and, over NATS, across nodes.

The service runs as the system user iofog-agent in the docker group; its
settings live in /etc/iofog-agent (config.json) and its data in
/var/lib/iofog-agent." \
    "Recommends: docker.io | docker-ce, systemd"

# --- libiofog0 -------------------------------------------------------------------------------
p=libiofog$soversion
libdir=usr/lib/$multiarch
install -D -m 0644 "$build/sdk/libiofog.so.$sdk_version" "$stage/$p/$libdir/libiofog.so.$sdk_version"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$stage/$p/$libdir/libiofog.so.$sdk_version"
ln -s "libiofog.so.$sdk_version" "$stage/$p/$libdir/libiofog.so.$soversion"
docs $p "$sdk_version"
mkdir -p "$stage/$p/DEBIAN"
echo "libiofog $soversion $p (>= $sdk_version)" >"$stage/$p/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$stage/$p/DEBIAN/triggers"
chmod 0644 "$stage/$p/DEBIAN/shlibs" "$stage/$p/DEBIAN/triggers"
deps=$(shlibdeps -e"$stage/$p/$libdir/libiofog.so.$sdk_version")
build_deb $p "$sdk_version" libs "$deps" \
    "C SDK for ioFog microservices (shared library)" \
    "libiofog lets a microservice run by an ioFog Agent read its configuration,
hear of configuration changes and send and receive ioMessages through the
Agent's Local API.

This package holds the shared library." \
    "Multi-Arch: same"

# --- libiofog-dev ----------------------------------------------------------------------------
p=libiofog-dev
install -D -m 0644 sdk/include/iofog/iofog.h "$stage/$p/usr/include/iofog/iofog.h"
install -D -m 0644 "$build/sdk/libiofog.a" "$stage/$p/$libdir/libiofog.a"
strip --strip-debug --remove-section=.comment "$stage/$p/$libdir/libiofog.a"
ln -s "libiofog.so.$soversion" "$stage/$p/$libdir/libiofog.so"
mkdir -p "$stage/$p/$libdir/pkgconfig"
sed -e "s|^prefix=.*|prefix=/usr|" -e "s|^libdir=.*|libdir=\${prefix}/lib/$multiarch|" \
    -e "s|^includedir=.*|includedir=\${prefix}/include|" \
    "$build/sdk/iofog.pc" >"$stage/$p/$libdir/pkgconfig/iofog.pc"
chmod 0644 "$stage/$p/$libdir/pkgconfig/iofog.pc"
docs $p "$sdk_version"
build_deb $p "$sdk_version" libdevel \
    "libiofog$soversion (= $sdk_version), libcurl4-openssl-dev | libcurl-dev, libjansson-dev, libssl-dev, libwslay-dev" \
    "C SDK for ioFog microservices (development files)" \
    "libiofog lets a microservice run by an ioFog Agent read its configuration,
hear of configuration changes and send and receive ioMessages through the
Agent's Local API.

This package holds the header, the static library and the pkg-config file
(iofog)." \
    "Multi-Arch: same"

rm -rf "$stage"
for f in "$out"/*.deb; do
    printf '%-48s %6d KiB\n' "$(basename "$f")" $(($(stat -c %s "$f") / 1024))
done
