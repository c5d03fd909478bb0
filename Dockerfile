# The atx agent: `docker compose up -d` (compose.yaml), then `docker compose exec agent atx tui`.
# Tested without a Docker engine: tests/test_deploy_dockerfile.py lints this file with hadolint
# and runs its CMD, ENV and HEALTHCHECK outside Docker against the sandbox.

ARG PYTHON_IMAGE=python:3.12-slim

# -- build: a virtualenv in /opt/atx -------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/atx/bin:$PATH
WORKDIR /src
RUN python -m venv /opt/atx
# Dependencies first, read from pyproject.toml alone: this layer is reused until they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# Then the code (changes often, installs in seconds).
COPY README.md ./
COPY agent ./agent
COPY sandbox ./sandbox
COPY tui ./tui
RUN pip install --no-deps . \
    && python -m compileall -q /opt/atx/lib

# -- runtime --------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="atx" \
      org.opencontainers.image.description="Self-hosted Autotask PSA to Xero sync agent"
RUN groupadd --gid 10001 atx \
    && useradd --create-home --uid 10001 --gid 10001 atx \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/atx /opt/atx
# The connect pages listen on every interface of the container: compose.yaml publishes them on
# the host's 127.0.0.1 only. The control socket is /data/control.sock (ATX_CONTROL_SOCKET).
# Two malloc arenas: the agent's threads otherwise keep 10-30 MB they do not use (agent/memory.py).
ENV PATH=/opt/atx/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ATX_DATA_DIR=/data \
    ATX_OAUTH_LISTEN=0.0.0.0:8742
USER 10001:10001
WORKDIR /home/atx
VOLUME ["/data"]
EXPOSE 8742
# `atx health` asks the running agent over its control socket (exit 0 healthy, 1 not).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["atx", "health"]
# Exec form: atx is PID 1 and receives SIGTERM itself (`docker stop`); it stops after the Xero
# batch in flight and exits 0. compose.yaml gives it 60 seconds for that.
STOPSIGNAL SIGTERM
CMD ["atx", "agent"]
