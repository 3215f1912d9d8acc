#!/bin/sh
# Build the decnet-fed image with no container registry and no network in the build:
# the base image comes from docker/base-image.sh, the Python packages from a
# wheelhouse built here on the host (the image installs them with --no-index).
#
#   docker/build-image.sh [TAG]         # default localhost/decnet-fed:latest
#
# PYTHON picks the host interpreter that builds the wheels (default .venv/bin/python,
# else python3); it must match the base image's (3.11, glibc) so the wheels install.
set -eu
cd "$(dirname "$0")/.."
tag="${1:-localhost/decnet-fed:latest}"
base="${BASE_IMAGE:-localhost/decnet-fed-base:bookworm}"
engine="${ENGINE:-podman}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
docker/base-image.sh "$base"
rm -rf docker/wheelhouse
"$python" -m pip wheel --quiet --disable-pip-version-check . -w docker/wheelhouse
version="$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
previous="$("$engine" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
# podman: docker format (OCI images drop HEALTHCHECK); runc and lowered ulimits, what
# containers need on the machines this was written on; --layers=false leaves no
# intermediate images behind (the build stage's included).
podman_flags=""
if [ "$engine" = podman ]; then
    podman_flags="--layers=false --format docker --runtime ${RUNTIME:-runc}"
    podman_flags="$podman_flags --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
fi
# shellcheck disable=SC2086 # podman_flags is a list of words
"$engine" build $podman_flags --network none \
    --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$version" \
    --build-arg "REVISION=$revision" \
    -t "$tag" -f Dockerfile .
current="$("$engine" image inspect --format '{{.Id}}' "$tag")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    "$engine" rmi "$previous" >/dev/null 2>&1 || true   # the image this build replaced
fi
echo "built $tag"
