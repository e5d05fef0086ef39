#!/usr/bin/env bash
# A new user's first run, as CI's check: in a container of a minimal Debian bookworm (debootstrap
# --variant=minbase from the mirror in this machine's apt sources), on a clean clone of the
# committed HEAD (with ../shared beside it), with the container's own network namespace and its own
# Docker Engine starting for the first time, runs both README commands:
#   bash scripts/install-deps.sh && bash scripts/demo.sh   (the main job; its checks must show)
#   bash scripts/install-deps.sh && bash scripts/test.sh   (every test must pass)
# then checks that `iofog-agent status` and `iofog-controller microservice list` work as printed in
# docs/quickstart.md from a new shell. Passes only when all of that does; every failure prints its
# cause. The container and its volume are removed at the end, also on failure or interruption.
# With --only packages, instead: builds the .deb files (scripts/package.sh, build/pkg of this
# working tree) and the example images here, and in the new container installs only those .deb
# files with `apt-get install ./…deb` and runs packaging/fresh-install.sh (services started as
# their units' ExecStart lines say, the demo application deployed, messages at the viewer, then
# remove keeps the data and purge removes it).
# Usage: scripts/fresh-check.sh [--only demo|tests|packages] [--rebuild-image]
#   --only demo|tests  run one README command (development; CI runs packages, then both)
#   --only packages    the package test (see above)
#   --rebuild-image    debootstrap the root file system again even when cached
# Environment: IOFOG_FRESH_CACHE (default /var/cache/iofog-fresh: root file system tarball),
#   IOFOG_FRESH_BUDGET (seconds for everything, default 4200), IOFOG_FRESH_MIRROR (default: the
#   bookworm mirror of this machine's apt sources), IOFOG_FRESH_LOGS (directory for the full logs,
#   default a new directory under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

only=
rebuild=0
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only=${2:-}; shift
                case "$only" in demo|tests|packages) ;; *) echo "--only takes demo, tests or packages" >&2; exit 2 ;; esac ;;
        --rebuild-image) rebuild=1 ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

cache=${IOFOG_FRESH_CACHE:-/var/cache/iofog-fresh}
budget=${IOFOG_FRESH_BUDGET:-4200}
image=iofog-fresh:bookworm-minbase
tarball=$cache/bookworm-minbase.tar
t0=$(date +%s)
name=iofog-fresh-$$
volume=iofog-fresh-docker-$$
work=$(mktemp -d /tmp/iofog-fresh.XXXXXX)
logs=${IOFOG_FRESH_LOGS:-$work/logs}
mkdir -p "$logs"
results=()
pkg_tag=
pkg_images=(iofog-example/sensor iofog-example/viewer iofog-example/config-echo)

say() { printf '\n==> fresh-check [%ds]: %s\n' "$(($(date +%s) - t0))" "$*"; }
die() { echo "fresh-check: FAILED: $*" >&2; exit 1; }
left() { echo $((budget - ($(date +%s) - t0))); }

cleanup() {
    local rc=$?
    if docker inspect "$name" >/dev/null 2>&1; then
        # Its own engine first (bounded), so its containers' cgroups are released, then the container.
        docker exec "$name" timeout 60 sh -c \
            'docker rm -f $(docker ps -aq) >/dev/null 2>&1
             if [ -f /src/iofog/scripts/dockerd.sh ]; then bash /src/iofog/scripts/dockerd.sh stop
             elif [ -f /var/run/docker.pid ]; then p=$(cat /var/run/docker.pid); kill "$p"
                  while kill -0 "$p"; do sleep 0.2; done; fi' \
            >/dev/null 2>&1 || true
        docker rm -f "$name" >/dev/null 2>&1 || true
    fi
    for _ in 1 2 3 4 5 6 7 8 9 10; do # the container's removal may still hold it for a moment
        docker volume inspect "$volume" >/dev/null 2>&1 || break
        docker volume rm -f "$volume" >/dev/null 2>&1 || sleep 1
    done
    docker volume inspect "$volume" >/dev/null 2>&1 && echo "fresh-check: could not remove volume $volume" >&2
    rm -rf "$work/src" "$work/pkg"
    [ -z "$pkg_tag" ] || docker rmi "${pkg_images[@]/%/:$pkg_tag}" >/dev/null 2>&1 || true
    if [ -z "${IOFOG_FRESH_LOGS:-}" ]; then
        [ "$rc" -eq 0 ] && rm -rf "$work" || echo "fresh-check: full logs kept in $logs" >&2
    fi
    [ "$rc" -eq 0 ] || echo "fresh-check: exit $rc after $(($(date +%s) - t0)) s" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, docker)"
command -v debootstrap >/dev/null || die "debootstrap is not installed: run scripts/install-deps.sh"
command -v git >/dev/null || die "git is not installed: run scripts/install-deps.sh"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker Engine answers here (scripts/dockerd.sh start)"
[ -d ../shared ] || die "../shared is missing beside the repository (tests read ../shared)"

# The bookworm entries of this machine's apt sources (deb822 and one-line), as one deb822 file for
# the new root file system; the mirror of the first `bookworm` suite is debootstrap's.
sources=$(python3 - <<'EOF'
import glob, re
stanzas = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for block in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        stanzas.append((fields.get("uris", "").split(), fields.get("suites", "").split(),
                        fields.get("components", "main").split()))
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(parts) >= 4 and parts[0] == "deb":
            stanzas.append(([parts[1]], [parts[2]], parts[3:]))
out = []
for uris, suites, comps in stanzas:
    suites = [s for s in suites if re.fullmatch(r"bookworm(-[a-z]+)?(/updates)?", s)]
    if uris and suites:
        out.append("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n"
                   "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                   % (" ".join(uris), " ".join(suites), " ".join(comps)))
print("\n".join(out), end="")
EOF
)
mirror=${IOFOG_FRESH_MIRROR:-$(awk '/^URIs:/ {u=$2} /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print u; exit } }' <<<"$sources")}
[ -n "$mirror" ] || die "no bookworm mirror in this machine's apt sources (set IOFOG_FRESH_MIRROR)"

say "root file system (debootstrap --variant=minbase bookworm $mirror; cache $tarball)"
mkdir -p "$cache"
if [ "$rebuild" -eq 1 ] || [ ! -s "$tarball" ]; then
    rootfs=$cache/rootfs.tmp
    rm -rf "$rootfs" "$tarball.tmp"
    timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
        { tail -n 20 "$logs/debootstrap.log" >&2; rm -rf "$rootfs"; die "debootstrap from $mirror failed (log above)"; }
    rm -f "$rootfs/etc/apt/sources.list"
    if [ -n "$sources" ]; then
        printf '%s' "$sources" >"$rootfs/etc/apt/sources.list.d/debian.sources"
    else
        printf 'deb %s bookworm main\n' "$mirror" >"$rootfs/etc/apt/sources.list"
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    docker rmi -f "$image" >/dev/null 2>&1 || true
    echo "built $tarball ($(du -h "$tarball" | cut -f1))"
else
    echo "cached: $tarball ($(du -h "$tarball" | cut -f1), $(date -r "$tarball" -u '+%F %T UTC'))"
fi
if ! docker image inspect "$image" >/dev/null 2>&1; then
    docker import --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null || die "docker import of $tarball failed"
    echo "imported as $image"
fi

if [ "$only" = packages ]; then
    # The .deb files and the example images, made here from this working tree (CI: the commit).
    say "packages (scripts/package.sh, build/pkg) and example images"
    mkdir -p "$work/pkg/debs"
    bash scripts/package.sh --build-dir build/pkg --out "$work/pkg/debs" >"$logs/package.log" 2>&1 ||
        { tail -n 20 "$logs/package.log" >&2; die "scripts/package.sh failed (log above)"; }
    grep -E '\.deb' "$logs/package.log" | sed 's/^/  /'
    pkg_tag=pkgtest-$$
    IOFOG_BUILD_DIR=build/pkg IOFOG_IMAGE_TAG=$pkg_tag bash scripts/build-example-images.sh \
        >"$logs/images.log" 2>&1 || { tail -n 20 "$logs/images.log" >&2; die "the example images failed to build"; }
    docker save -o "$work/pkg/images.tar" "${pkg_images[@]/%/:$pkg_tag}" || die "docker save failed"
    cp examples/demo/application.yaml packaging/fresh-install.sh "$work/pkg/"
fi

if [ "$only" != packages ]; then
say "clean clone of the committed HEAD ($(git rev-parse --short HEAD)) and ../shared"
head=$(git rev-parse HEAD)
mkdir -p "$work/src"
git clone -q --no-checkout "$root" "$work/src/iofog"
git -C "$work/src/iofog" -c advice.detachedHead=false checkout -q --detach "$head"
cp -a ../shared "$work/src/shared"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes in $root are not part of the check"
fi
fi

say "container $name (own network namespace; /var/lib/docker on volume $volume)"
# --privileged fails on these machines (a capability is missing from the bounding set); this set
# runs a nested dockerd. /var/lib/docker is a volume (ext4 on the host), not the container's
# overlay: overlay2 on top of overlay fails.
docker volume create "$volume" >/dev/null
docker run -d --name "$name" --hostname fresh-bookworm --init \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup \
    -v "$volume:/var/lib/docker" \
    "$image" sleep infinity >/dev/null || die "docker run of $image failed"
if [ "$only" = packages ]; then
    tar -C "$work" -c pkg | docker exec -i "$name" sh -c 'tar -x -C /' ||
        die "copying the packages into the container failed"
else
    tar -C "$work/src" -c iofog shared | docker exec -i "$name" sh -c 'mkdir -p /src && tar -x -C /src' ||
        die "copying the clone into the container failed"
fi
# The container trusts what this machine trusts: local CA certificates (an HTTPS proxy's, for the
# npm registry) go where ca-certificates, once installed, adds them to the system store.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    tar -C /usr/local/share -c ca-certificates |
        docker exec -i "$name" sh -c 'mkdir -p /usr/local/share && tar -x -C /usr/local/share' ||
        die "copying the local CA certificates into the container failed"
fi
# A throw-away system: dpkg may skip its fsync calls (force-unsafe-io; on this
# shared disk they make the installation of the packages several times slower).
docker exec "$name" sh -c 'echo force-unsafe-io >/etc/dpkg/dpkg.cfg.d/container-unsafe-io' ||
    die "docker exec in $name failed"
rm -rf "$work/src"

# Runs a README command in the container as a new user would (root, /src/iofog; $3: another
# directory), bounded by what is left of the budget; output into $logs/$1.log and to this output,
# each line prefixed.
run_in() {
    local what=$1 cmd=$2 cd=${3:-/src/iofog} secs
    secs=$(left)
    [ "$secs" -gt 60 ] || { echo "no time left for $what" >"$logs/$what.log"; return 124; }
    echo "\$ $cmd    (in the container, at most ${secs}s)"
    # In the background and waited for, so that a signal to this script is handled at once.
    (
        set +e
        docker exec "$name" timeout -k 30 "$secs" bash -c "cd $cd && $cmd" 2>&1 |
            tee "$logs/$what.log" | sed -u "s/^/[$what] /"
        exit "${PIPESTATUS[0]}"
    ) &
    local rc=0
    wait $! || rc=$?
    return "$rc"
}

demo_ok=1
tests_ok=1
pkg_ok=1
if [ "$only" = packages ]; then
    say "package test: apt-get install ./*.deb, services as their units say, demo application"
    t_pkg=$(date +%s)
    rc=0
    run_in packages "bash fresh-install.sh /pkg $pkg_tag" /pkg || rc=$?
    secs_pkg=$(($(date +%s) - t_pkg))
    if [ "$rc" -ne 0 ]; then
        pkg_ok=0
        cause=$(grep -E '^pkgtest: FAILED' "$logs/packages.log" | tail -1 || true)
        [ "$rc" -eq 124 ] && cause="timed out after the budget's end"
        results+=("package test: FAILED: exit $rc${cause:+: $cause}")
    elif ! grep -q '^pkgtest \[[0-9]*s\]: passed' "$logs/packages.log"; then
        pkg_ok=0
        results+=("package test: FAILED: fresh-install.sh exited 0 without its last step")
    else
        results+=("package test (apt-get install ./*.deb, units' ExecStart, demo application, remove/purge): passed in ${secs_pkg} s in the container, $(($(date +%s) - t0)) s in all")
    fi
fi
if [ "$only" != tests ] && [ "$only" != packages ]; then
    say "README main job: install-deps && demo"
    rc=0
    run_in demo 'bash scripts/install-deps.sh && bash scripts/demo.sh' || rc=$?
    cause=
    if [ "$rc" -ne 0 ]; then
        cause=$(grep -E '^demo: FAILED' "$logs/demo.log" | tail -1 || true)
        [ "$rc" -eq 124 ] && cause="timed out after the budget's end"
        cause="demo.sh exited $rc${cause:+: $cause}"
    else
        for re in 'config-echo: RUNNING, sensor: RUNNING, viewer: RUNNING' \
                  'content=\{"temperature":[0-9.]+,"unit":"C"\}' \
                  'content=\{"temperature":10[01]\.[0-9]+' \
                  'same container: yes' \
                  'config-echo: config \{"greeting":"hello again"\}'; do
            grep -qE "$re" "$logs/demo.log" || { cause="the demo's output lacks /$re/"; break; }
        done
    fi
    if [ -z "$cause" ]; then
        # As printed in docs/quickstart.md, in a new process: nothing of the demo's environment.
        say "the quickstart's commands, from a new shell"
        n=0
        for c in 'iofog-agent status|connection-to-controller.*: ok' \
                 'iofog-controller microservice list|sensor'; do
            n=$((n + 1))
            echo "\$ ${c%%|*}"
            docker exec "$name" timeout 30 bash -c "${c%%|*}" >"$logs/cmd$n.log" 2>&1 || cause="'${c%%|*}' failed"
            sed 's/^/  /' "$logs/cmd$n.log"
            [ -n "$cause" ] || grep -qE "${c#*|}" "$logs/cmd$n.log" || cause="'${c%%|*}' printed no /${c#*|}/"
            [ -z "$cause" ] || { cause="$cause in a new shell after the demo"; break; }
        done
    fi
    if [ -n "$cause" ]; then
        demo_ok=0
        results+=("main job (install-deps && demo.sh): FAILED: $cause")
    else
        results+=("main job (install-deps && demo.sh): passed (messages at the viewer, live config change in the same container)")
    fi
    docker exec "$name" timeout 120 bash -c 'cd /src/iofog && bash scripts/demo.sh stop' >/dev/null 2>&1 || true
fi

if [ "$only" != demo ] && [ "$only" != packages ]; then
    say "README test command: install-deps && test"
    rc=0
    run_in tests 'bash scripts/install-deps.sh && bash scripts/test.sh' || rc=$?
    summary=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$logs/tests.log" || true)
    if [ "$rc" -ne 0 ]; then
        tests_ok=0
        if [ "$rc" -eq 124 ]; then
            results+=("test command: FAILED: timed out at the end of the budget (${budget}s)")
        elif [ -z "$summary" ]; then
            results+=("test command: FAILED: exit $rc before any CTest summary; last lines: $(tail -n 3 "$logs/tests.log" | tr '\n' ' ')")
        else
            failed=$(grep -E '^[[:space:]]+[0-9]+ - [^ ]+ \(' "$logs/tests.log" | awk '{print $3}' | sort -u | paste -sd ' ' - || true)
            results+=("test command: FAILED: exit $rc; $(tail -n 1 <<<"$summary")${failed:+; failed: $failed}")
        fi
    else
        last=$(tail -n 1 <<<"$summary")
        if grep -q '^100% tests passed, 0 tests failed' <<<"$last"; then
            results+=("test command (install-deps && test.sh): passed")
        else
            tests_ok=0
            results+=("test command: FAILED: the last CTest summary is '$last'")
        fi
    fi
    say "CTest summaries (the ASan+UBSan build's first, the normal build's last)"
    echo "${summary:-(no CTest summary in the output)}"
    grep -E '^[[:space:]]+[0-9]+ - .*\((Failed|Timeout|Not Run|SEGFAULT|Subprocess aborted|Child aborted)\)' \
        "$logs/tests.log" || true
fi

say "result after $(($(date +%s) - t0)) s"
printf '  %s\n' "${results[@]}"
if [ "$demo_ok" -ne 1 ] || [ "$tests_ok" -ne 1 ] || [ "$pkg_ok" -ne 1 ]; then
    for r in "${results[@]}"; do
        case "$r" in *FAILED*) die "$r" ;; esac
    done
fi
echo "fresh-check: passed"
