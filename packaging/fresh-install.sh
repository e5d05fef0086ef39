#!/usr/bin/env bash
# The package test's inside half, run as root in a new minimal Debian bookworm container by
# scripts/fresh-check.sh --only packages (not meant for a machine anyone keeps): installs only the
# built .deb files with `apt-get install ./…deb` (their dependencies come from Debian), checks what
# the maintainer scripts made, starts the Controller and the Agent as their units' ExecStart lines
# say (User=, Group=, SupplementaryGroups=, UMask= from the unit; no systemd here), waits with the
# units' ExecStartPost readiness checks, provisions the Agent, deploys the demo application and
# waits for sensor messages at the viewer; then `apt-get remove` keeps the data and the users,
# `apt-get purge` removes them. Each step prints `pkgtest: <what>`; the first failure prints
# `pkgtest: FAILED: <cause>` and exits 1.
# Usage: fresh-install.sh DIR TAG   DIR holds debs/*.deb, images.tar (the example images, tag TAG)
#   and application.yaml (examples/demo/application.yaml).
set -euo pipefail
dir=${1:?usage: fresh-install.sh DIR TAG}
tag=${2:?usage: fresh-install.sh DIR TAG}
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
step() { printf 'pkgtest [%ds]: %s\n' "$(($(date +%s) - t0))" "$*"; }
fail() {
    echo "pkgtest: FAILED: $*" >&2
    for f in /tmp/pkgtest-*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}
# Waits up to $1 seconds for "$2..." to succeed.
wait_for() {
    local n=$(($1 * 5))
    shift
    for _ in $(seq 1 "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
# The value of key $2 in unit file $1 ("" when absent).
unit_key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# --- install ---------------------------------------------------------------------------------
step "apt-get install of the built packages: $(cd "$dir/debs" && ls ./*.deb | tr '\n' ' ')"
apt-get update -q >/tmp/pkgtest-apt.log 2>&1 || fail "apt-get update failed"
debs=("$dir"/debs/*.deb)
apt-get install -y -q "${debs[@]}" >>/tmp/pkgtest-apt.log 2>&1 || fail "apt-get install of the .deb files failed"
grep -E '^(Setting up|Unpacking) (iofog|libiofog)' /tmp/pkgtest-apt.log | sed 's/^/  /'
echo "  $(grep -c '^Setting up' /tmp/pkgtest-apt.log) packages set up in all; $(grep '^Fetched' /tmp/pkgtest-apt.log | tail -n 1)"
for p in iofog-controller iofog-agent libiofog0 libiofog-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || fail "$p is not installed"
done
# Tools of this test only (not needed by the packages): curl for the viewer's HTTP port.
apt-get install -y -q --no-install-recommends curl >>/tmp/pkgtest-apt.log 2>&1 || fail "apt-get install curl failed"
command -v dockerd >/dev/null || fail "docker.io (recommended by iofog-agent) was not installed"

step "what the maintainer scripts made"
for p in iofog-controller iofog-agent; do
    getent passwd "$p" >/dev/null || fail "no system user $p"
    getent group "$p" >/dev/null || fail "no group $p"
done
for d in /var/lib/iofog-controller /etc/iofog-agent /var/lib/iofog-agent /var/log/iofog-agent; do
    got=$(stat -c '%U:%G %a' "$d")
    echo "  $d: $got"
    case "$d" in *controller*) want="iofog-controller:iofog-controller 700" ;; *) want="iofog-agent:iofog-agent 700" ;; esac
    [ "$got" = "$want" ] || fail "$d is $got, expected $want"
done
[ "$(readlink /var/lib/iofog-controller/controller.json)" = /etc/iofog-controller/controller.json ] ||
    fail "/var/lib/iofog-controller/controller.json is not a link to the conffile"
command -v iofog-controller >/dev/null && command -v iofog-agent >/dev/null || fail "the commands are not on PATH"
# Running the postinst again (dpkg-reconfigure) changes nothing and does not fail.
before=$(stat -c '%n %U %a' /var/lib/iofog-controller /etc/iofog-agent; getent passwd iofog-controller iofog-agent)
dpkg-reconfigure iofog-controller iofog-agent >/dev/null 2>&1 || fail "dpkg-reconfigure failed"
after=$(stat -c '%n %U %a' /var/lib/iofog-controller /etc/iofog-agent; getent passwd iofog-controller iofog-agent)
[ "$before" = "$after" ] || fail "dpkg-reconfigure changed users or directories"
echo "  users, groups, 0700 data directories, conffile link; dpkg-reconfigure changes nothing"

step "Docker Engine (the container's own)"
nohup dockerd --host unix:///var/run/docker.sock >/tmp/pkgtest-dockerd.log 2>&1 &
wait_for 60 docker info || fail "dockerd did not answer within 60 s"
docker load -q -i "$dir/images.tar" | sed 's/^/  /'
# The Agent's unit names the docker group: the group exists now (docker.io), and the postinst
# puts iofog-agent in it when it exists at configure time; either way the unit's
# SupplementaryGroups=docker gives the service the socket.
id iofog-agent | sed 's/^/  /'

# Starts service $1 as its unit says: ExecStart under User=/Group=/SupplementaryGroups=/UMask=,
# in the background with its output in /tmp/pkgtest-$1.log, then the unit's ExecStartPost.
start_unit() {
    local unit=/lib/systemd/system/$1.service exec post user group groups umask
    [ -f "$unit" ] || fail "$unit is missing"
    exec=$(unit_key "$unit" ExecStart)
    post=$(unit_key "$unit" ExecStartPost)
    user=$(unit_key "$unit" User)
    group=$(unit_key "$unit" Group)
    groups=$(unit_key "$unit" SupplementaryGroups | tr ' ' ',')
    umask=$(unit_key "$unit" UMask)
    echo "  ExecStart=$exec  (User=$user Group=$group${groups:+ SupplementaryGroups=$groups}${umask:+ UMask=$umask})"
    local sp=(setpriv --reuid="$user" --regid="$group")
    if [ -n "$groups" ]; then sp+=(--groups="$groups"); else sp+=(--clear-groups); fi
    # The unit's Exec line is one command with plain words: split as systemd does for these.
    # shellcheck disable=SC2086
    (umask "${umask:-0022}" && cd / && exec "${sp[@]}" $exec) </dev/null >"/tmp/pkgtest-$1.log" 2>&1 &
    echo $! >"/tmp/pkgtest-$1.pid"
    if [ -n "$post" ]; then
        local cmd=${post#/bin/sh -c }
        cmd=${cmd#\'}
        cmd=${cmd%\'}
        timeout 40 /bin/sh -c "$cmd" || fail "$1: the unit's readiness check (ExecStartPost) failed"
    fi
    kill -0 "$(cat "/tmp/pkgtest-$1.pid")" 2>/dev/null || fail "$1 exited after its start"
    local pid owner
    pid=$(cat "/tmp/pkgtest-$1.pid")
    owner=$(stat -c %U "/proc/$pid")
    [ "$owner" = "$user" ] || fail "$1 runs as $owner, not as the unit's User=$user"
    grep -q "^Groups:.*\b$(getent group docker | cut -d: -f3)\b" "/proc/$pid/status" || [ -z "$groups" ] ||
        fail "$1 lacks the unit's SupplementaryGroups=$groups"
    echo "  $1 ready (pid $pid, user $owner, command $(tr '\0' ' ' <"/proc/$pid/cmdline"))"
}

step "Controller as iofog-controller.service says"
start_unit iofog-controller
email=pkgtest@example.com
password=pkgtest-password-1
iofog-controller user add -f Package -l Test -e "$email" -p "$password" >/dev/null || fail "user add failed"

step "catalog items, node, provisioning"
catalog() { # $1 example name: prints the catalog item's id
    iofog-controller catalog add -n "demo-$1" -x "iofog-example/$1:$tag" -g 2 -c example --output json |
        sed -n 's/.*"id"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1
}
sed_args=()
for name in sensor viewer config-echo; do
    id=$(catalog "$name")
    [ -n "$id" ] || fail "catalog add demo-$name failed"
    var=CATALOG_$(echo "$name" | tr 'a-z-' 'A-Z_')
    sed_args+=(-e "s/$var/$id/")
done
json_field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1; }
node=$(iofog-controller iofog add -n edge-1 -y 1 --output json | json_field uuid)
[ -n "$node" ] || fail "iofog add failed"
key=$(iofog-controller iofog provisioning-key -i "$node" --output json | json_field key)
[ -n "$key" ] || fail "provisioning-key failed"

step "Agent as iofog-agent.service says"
start_unit iofog-agent
iofog-agent provision "$key" | sed 's/^/  /' || fail "iofog-agent provision failed"
wait_for 30 sh -c "iofog-agent status | grep -q 'connection-to-controller.*: ok'" ||
    fail "the Agent did not report to the Controller within 30 s"
iofog-agent status | grep -E 'daemon|connection-to-controller' | sed 's/^/  /'

step "deploy the demo application"
sed "${sed_args[@]}" -e "s/VIEWER_PORT/5555/" "$dir/application.yaml" >/tmp/pkgtest-application.yaml
iofog-controller application add -f /tmp/pkgtest-application.yaml >/dev/null || fail "application add failed"
# The application table's RUNNING column counts the microservices whose reported status is RUNNING.
all_running() { iofog-controller application list --output table | grep -qE '^demo +3/3 '; }
wait_for 90 all_running || {
    iofog-controller application list --output table >&2 || true
    fail "not every microservice of the demo was RUNNING within 90 s"
}
iofog-controller application list --output table | sed 's/^/  /'
viewer_has_messages() { curl -sf http://127.0.0.1:5555/ | grep -q contentdata; }
wait_for 30 viewer_has_messages || fail "no sensor message reached the viewer within 30 s"
msgs=$(curl -sf http://127.0.0.1:5555/)
echo "  viewer: $(grep -o '"contentdata"' <<<"$msgs" | wc -l) messages; last: $(grep -o '"contentdata" *: *"[^"]*"' <<<"$msgs" | tail -n 1)"
body=$(grep -o '"contentdata" *: *"[^"]*"' <<<"$msgs" | tail -n 1 | sed 's/.*: *"//; s/"$//' | base64 -d)
echo "  decoded: $body"
grep -q '"temperature"' <<<"$body" || fail "the viewer's last message is not a sensor reading: $body"

step "stop both as systemd would (SIGTERM to the main process)"
for p in iofog-agent iofog-controller; do
    pid=$(cat "/tmp/pkgtest-$p.pid")
    kill -TERM "$pid"
    wait_for 90 sh -c "! kill -0 $pid" || fail "$p did not stop within 90 s of SIGTERM"
done
left=$(docker ps -q --filter label=iofog-uuid | wc -l)
echo "  stopped; microservice containers left: $left"

step "apt-get remove keeps data, configuration and users"
apt-get remove -y -q iofog-controller iofog-agent >>/tmp/pkgtest-apt.log 2>&1 || fail "apt-get remove failed"
[ ! -e /usr/bin/iofog-controller ] && [ ! -e /usr/bin/iofog-agent ] || fail "binaries left after remove"
for f in /var/lib/iofog-controller/controller.sqlite /etc/iofog-agent/config.json \
    /etc/iofog-agent/credentials.json /etc/iofog-controller/controller.json; do
    [ -e "$f" ] || fail "$f is gone after apt-get remove"
done
getent passwd iofog-controller >/dev/null && getent passwd iofog-agent >/dev/null || fail "users gone after remove"
echo "  data kept: $(du -sh /var/lib/iofog-controller | cut -f1) in /var/lib/iofog-controller, $(ls /etc/iofog-agent | wc -l) files in /etc/iofog-agent"

step "apt-get purge removes them"
apt-get purge -y -q iofog-controller iofog-agent >>/tmp/pkgtest-apt.log 2>&1 || fail "apt-get purge failed"
for d in /var/lib/iofog-controller /etc/iofog-controller /etc/iofog-agent /var/lib/iofog-agent /var/log/iofog-agent; do
    [ ! -e "$d" ] || fail "$d is still there after purge"
done
! getent passwd iofog-controller >/dev/null && ! getent passwd iofog-agent >/dev/null || fail "users left after purge"
! getent group iofog-controller >/dev/null || fail "group iofog-controller left after purge"
echo "  directories, users and groups gone"
step "passed"
