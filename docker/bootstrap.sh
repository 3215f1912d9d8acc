#!/bin/sh
# One-shot trust bootstrap for a federation of running decnet-fed containers:
# every node trusts every other one's Ed25519 key, then reloads (SIGHUP).
#
#   docker/bootstrap.sh NAME[=HOST:PORT] ...     # e.g. north east south
#
# For each NAME the container is "$DECNET_FED_PREFIX$NAME" (default prefix
# "decnet-fed-", as container_name in compose.yaml) and its peers reach it at HOST:PORT (default
# NAME:50551, the compose service name). ENGINE is podman (default) or docker.
#   1. `decnet-fed whoami --json` in each container reads its public key (made by
#      `init` on first start);
#   2. `decnet-fed peers add NAME HOST:PORT --key KEY` in each of the others (this
#      also fetches and pins the peer's certificate); a peer already trusted is kept;
#   3. SIGHUP to each `serve`, which reloads its trust store;
#   4. `decnet-fed peers check` in each container until every peer answers
#      (deadline $BOOTSTRAP_TIMEOUT_S, default 60 s).
# Safe to re-run. Keys never leave the containers; only public keys are copied.
set -eu
engine="${ENGINE:-podman}"
prefix="${DECNET_FED_PREFIX:-decnet-fed-}"
timeout_s="${BOOTSTRAP_TIMEOUT_S:-60}"
[ "$#" -ge 2 ] || { echo "usage: $0 NAME[=HOST:PORT] NAME[=HOST:PORT] ..." >&2; exit 2; }

name_of() { echo "${1%%=*}"; }
address_of() { case "$1" in *=*) echo "${1#*=}" ;; *) echo "$1:50551" ;; esac; }
fed() { container="$prefix$1"; shift; "$engine" exec "$container" decnet-fed "$@"; }

keys="$(mktemp -d)"
trap 'rm -rf "$keys"' EXIT
for spec in "$@"; do
    name="$(name_of "$spec")"
    fed "$name" whoami --json \
        | sed -n 's/.*"public_key": *"\([^"]*\)".*/\1/p' > "$keys/$name"
    [ -s "$keys/$name" ] || { echo "no public key from $prefix$name" >&2; exit 1; }
    echo "$name: $(cat "$keys/$name")"
done

for spec in "$@"; do
    name="$(name_of "$spec")"
    trusted="$(fed "$name" peers list --json)"
    for other in "$@"; do
        peer="$(name_of "$other")"
        [ "$peer" != "$name" ] || continue
        if echo "$trusted" | grep -Eq "\"name\": ?\"$peer\""; then
            echo "$name already trusts $peer"
            continue
        fi
        fed "$name" peers add "$peer" "$(address_of "$other")" --key "$(cat "$keys/$peer")"
    done
done

for spec in "$@"; do
    "$engine" kill --signal HUP "$prefix$(name_of "$spec")" >/dev/null
done

deadline=$(( $(date +%s) + timeout_s ))
for spec in "$@"; do
    name="$(name_of "$spec")"
    until fed "$name" peers check >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "$name cannot reach all its peers yet:" >&2
            fed "$name" peers check >&2 || true
            exit 1
        fi
        sleep 1
    done
    echo "$name reaches all its peers"
done
