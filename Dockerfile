# decnet-fed: one operator's federation node, `decnet-fed serve` as PID 1.
#
# The base image is a build argument so the image builds where no container
# registry is reachable: docker/base-image.sh makes the default one locally
# (mmdebstrap bookworm minbase + python3, python3-venv, libsodium23; `podman import`), and
# docker/build-image.sh builds the Python wheels on the host first, so the
# build itself needs no network (docs/container.md).
ARG BASE_IMAGE=localhost/decnet-fed-base:bookworm

# --- build: a virtualenv installed from the wheelhouse only ----------------------
FROM ${BASE_IMAGE} AS build
ARG VERSION=0.1.0
COPY docker/wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/decnet-fed \
    && /opt/decnet-fed/bin/pip install --no-cache-dir --no-index --disable-pip-version-check \
        --find-links=/tmp/wheelhouse "decnet-federation==${VERSION}" \
    && /opt/decnet-fed/bin/pip uninstall --yes --quiet pip setuptools \
    && rm -f /opt/decnet-fed/bin/activate* /opt/decnet-fed/bin/Activate.ps1
COPY docker/healthcheck.py /opt/decnet-fed/healthcheck.py
COPY docker/entrypoint.sh /opt/decnet-fed/entrypoint.sh
# Bytecode compiled now: the root file system is read-only at run time. Importing the
# OPRF core fails, naming the package, when the base (both stages') lacks libsodium23.
RUN /opt/decnet-fed/bin/python -m compileall -q /opt/decnet-fed/healthcheck.py \
    && /opt/decnet-fed/bin/python -B -c "import federation.blind.oprf" \
    && chmod 0755 /opt/decnet-fed/entrypoint.sh

# --- runtime: the base, the virtualenv, a numeric user and an empty home -----------
FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="decnet-fed" \
      org.opencontainers.image.description="Federated, privacy-preserving intelligence node for honeypot operators" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      org.opencontainers.image.documentation="docs/container.md"
COPY --from=build /opt/decnet-fed /opt/decnet-fed
# uid/gid 10001: numeric, outside any host's range of login users. The home is
# the one volume; it must be 0700 and owned by the node's user.
RUN echo 'decnet-fed:x:10001:10001:decnet-fed node:/var/lib/decnet-fed:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'decnet-fed:x:10001:' >> /etc/group \
    && mkdir -p /var/lib/decnet-fed /etc/decnet-fed \
    && chown 10001:10001 /var/lib/decnet-fed \
    && chmod 0700 /var/lib/decnet-fed
ENV PATH=/opt/decnet-fed/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DECNET_FED_HOME=/var/lib/decnet-fed \
    DECNET_FED_FEDERATION_LISTEN=0.0.0.0:50551 \
    HOME=/var/lib/decnet-fed \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/decnet-fed
VOLUME ["/var/lib/decnet-fed"]
EXPOSE 50551
# serve stops gracefully on SIGTERM within [limits] shutdown_grace_s (10 s):
# give the container a longer stop timeout (--stop-timeout 30, stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/opt/decnet-fed/bin/python", "/opt/decnet-fed/healthcheck.py"]
ENTRYPOINT ["/opt/decnet-fed/entrypoint.sh"]
CMD []
