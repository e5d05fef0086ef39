#!/usr/bin/env bash
# Test helper (not a test): a private Docker registry (Debian's docker-registry) with htpasswd
# authentication on 127.0.0.1, holding a copy of a local image, for agent/containers_test.c.
#   agent/registry_test.sh start <dir> <port> <local image> <repo name>   (user tester, password s3cret)
#   agent/registry_test.sh stop <dir>
# start pushes <local image> as 127.0.0.1:<port>/<repo name>:1 through the Docker API and removes the
# local copy of the pushed tag, so a pull must fetch it.
set -euo pipefail
cmd=$1 dir=$2
api() { curl -sf --unix-socket /var/run/docker.sock "$@"; }
case "$cmd" in
start)
    port=$3 image=$4 repo=$5
    mkdir -p "$dir"
    python3 -W ignore -c "import crypt; print('tester:' + crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH)))" >"$dir/htpasswd"
    cat >"$dir/config.yml" <<CFG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
  secret: test
auth:
  htpasswd:
    realm: test
    path: $dir/htpasswd
CFG
    setsid /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
        sleep 0.1
    done
    auth=$(printf '{"username":"tester","password":"s3cret","serveraddress":"127.0.0.1:%s"}' "$port" |
        base64 -w0 | tr '+/' '-_')
    api -X POST "http://d/v1.41/images/$image/tag?repo=127.0.0.1:$port/$repo&tag=1" >/dev/null
    api -X POST -H "X-Registry-Auth: $auth" "http://d/v1.41/images/127.0.0.1:$port/$repo/push?tag=1" |
        grep -q '"error"' && { echo "push failed" >&2; exit 1; }
    api -X DELETE "http://d/v1.41/images/127.0.0.1:$port/$repo:1" >/dev/null
    ;;
stop)
    [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -rf "$dir"
    ;;
*) echo "usage: $0 start|stop ..." >&2; exit 2 ;;
esac
