#!/bin/sh
# Container entry point: initialise the node home on first start (config, store,
# Ed25519 key; `init` is idempotent), take the mounted config file if there is one,
# then exec `decnet-fed serve` as PID 1 so it receives SIGTERM and SIGHUP itself.
#
#   (no arguments) or options   → decnet-fed serve [OPTIONS]
#   a command (ingest, whoami…) → decnet-fed COMMAND … on the same home
set -eu
: "${DECNET_FED_HOME:=/var/lib/decnet-fed}"
export DECNET_FED_HOME
config_file="${DECNET_FED_CONFIG_FILE:-/etc/decnet-fed/config.toml}"

if [ -n "${DECNET_FED_NODE_NAME:-}" ]; then
    decnet-fed init --name "$DECNET_FED_NODE_NAME" >/dev/null
else
    decnet-fed init >/dev/null
fi
# A mounted TOML file replaces the home's config.toml (after init, which would
# otherwise see a config without a store); DECNET_FED_<SECTION>_<FIELD> still wins.
if [ -f "$config_file" ]; then
    cp "$config_file" "$DECNET_FED_HOME/config.toml.tmp"
    chmod 600 "$DECNET_FED_HOME/config.toml.tmp"
    mv "$DECNET_FED_HOME/config.toml.tmp" "$DECNET_FED_HOME/config.toml"
fi

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    exec decnet-fed serve "$@"
fi
exec decnet-fed "$@"
