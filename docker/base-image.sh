#!/bin/sh
# Make the local base image the Dockerfile builds FROM, with no container registry:
# a minimal Debian bookworm with python3, python3-venv and libsodium23 (mmdebstrap,
# ~30 s), imported into podman as localhost/decnet-fed-base:bookworm.
#
#   docker/base-image.sh [IMAGE]        # as root; needs mmdebstrap and podman
#
# Does nothing when IMAGE already exists with today's package list. The rootfs
# tarball is kept in $DECNET_FED_BASE_CACHE (default ~/.cache/decnet-fed) and
# re-imported from there when the image was removed. Docs, man pages and locales
# are left out.
set -eu
image="${1:-localhost/decnet-fed-base:bookworm}"
engine="${ENGINE:-podman}"
# libsodium23: the system library the OPRF core (federation/blind) calls through pysodium.
packages="python3,python3-venv,libsodium23"
# The image carries its package list in a label and the tarball's name holds it, so a
# base made before the list changed is made again rather than used without a package.
label="org.decnet-fed.base.packages"
previous="$("$engine" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
if [ -n "$previous" ] && [ "$("$engine" image inspect \
        --format "{{index .Config.Labels \"$label\"}}" "$image")" = "$packages" ]; then
    echo "base image $image exists"
    exit 0
fi
cache="${DECNET_FED_BASE_CACHE:-${HOME:-/root}/.cache/decnet-fed}"
tar="$cache/base-bookworm+$(echo "$packages" | tr , +).tar"
mkdir -p "$cache"
if [ ! -s "$tar" ]; then
    mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$tar.tmp"
    mv "$tar.tmp" "$tar"
    for old in "$cache"/base-bookworm*.tar; do   # made with another package list
        [ "$old" = "$tar" ] || rm -f "$old"
    done
fi
"$engine" import --quiet --change "LABEL $label=$packages" "$tar" "$image" >/dev/null
current="$("$engine" image inspect --format '{{.Id}}' "$image")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    "$engine" rmi "$previous" >/dev/null 2>&1 || true   # the stale base this one replaced
fi
echo "base image $image imported from $tar"
