# tagpin's own image: the bot, the drift watcher and the recovery service (pick one with the command).
# BASE is any Debian-like image with python3 >= 3.11 and its venv module: the official python:3.11-slim where
# Docker Hub is reachable, or the one scripts/image.sh makes from Debian packages where it is not.
# DOCKER_CLI is any image with the docker CLI at /usr/local/bin/docker: the bot runs `docker stack deploy`.
ARG BASE=python:3.11-slim
ARG DOCKER_CLI=docker:27-cli

FROM ${DOCKER_CLI} AS docker-cli

FROM ${BASE} AS build
# scripts/image.sh sets PIP_NO_INDEX=1 and ships every wheel in wheels/, so the build needs no network;
# elsewhere wheels/ is absent and pip reads PyPI.
ARG PIP_NO_INDEX
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_FIND_LINKS=/src/wheels
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/tagpin \
 && /opt/tagpin/bin/pip install --no-compile "/src[postgres]" \
 && /opt/tagpin/bin/python -m compileall -q /opt/tagpin/lib \
 && /opt/tagpin/bin/pip uninstall -y -q pip \
 && cp -r /src/static /opt/tagpin/static

FROM ${BASE}
ARG VERSION=0.0.0
LABEL org.opencontainers.image.title="tagpin" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.description="Deploys per-tenant Swarm stacks pinned to image digests; watches drift; recovers unsaved work."
# A fixed uid, so volume and secret ownership can be set from outside; state lives on /var/lib/tagpin (a volume).
RUN groupadd --system --gid 10001 tagpin \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tagpin --shell /usr/sbin/nologin tagpin \
 && mkdir -p /var/lib/tagpin && chown tagpin:tagpin /var/lib/tagpin
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=build /opt/tagpin /opt/tagpin
# static/ is not in the wheel; the recovery service is told where it is.
ENV PATH=/opt/tagpin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    XDG_STATE_HOME=/var/lib/tagpin \
    TAGPIN_RECOVERY_STATIC_DIR=/opt/tagpin/static \
    TAGPIN_RECOVERY_DATABASE_URL=sqlite:////var/lib/tagpin/recovery.db \
    TAGPIN_HEALTH_URL=http://127.0.0.1:3000/healthz
USER 10001:10001
WORKDIR /var/lib/tagpin
VOLUME ["/var/lib/tagpin"]
# Each process serves /healthz on its own port; the stack sets TAGPIN_HEALTH_URL per service (watch: 3001, web: 8000).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['TAGPIN_HEALTH_URL'], timeout=2)"]
CMD ["tagpin", "bot"]
