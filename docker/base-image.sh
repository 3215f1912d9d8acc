#!/bin/sh
# Make the local base image the Dockerfile builds FROM, with no container registry:
# a minimal Debian bookworm with python3 and python3-venv (mmdebstrap, ~30 s),
# imported into podman as localhost/decnet-fed-base:bookworm.
#
#   docker/base-image.sh [IMAGE]        # as root; needs mmdebstrap and podman
#
# Does nothing when IMAGE already exists. The rootfs tarball is kept in
# $DECNET_FED_BASE_CACHE (default ~/.cache/decnet-fed) and re-imported from
# there when the image was removed. Docs, man pages and locales are left out.
set -eu
image="${1:-localhost/decnet-fed-base:bookworm}"
engine="${ENGINE:-podman}"
if "$engine" image inspect "$image" >/dev/null 2>&1; then
    echo "base image $image exists"
    exit 0
fi
cache="${DECNET_FED_BASE_CACHE:-${HOME:-/root}/.cache/decnet-fed}"
tar="$cache/base-bookworm.tar"
mkdir -p "$cache"
if [ ! -s "$tar" ]; then
    mmdebstrap --quiet --format=tar --variant=minbase --include=python3,python3-venv \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$tar.tmp"
    mv "$tar.tmp" "$tar"
fi
"$engine" import --quiet "$tar" "$image" >/dev/null
echo "base image $image imported from $tar"
