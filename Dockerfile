# syncer daemon image: `docker build -t syncer .`, then run it with the project mounted at /project:
#   docker run -v $PWD:/project --env-file .env -p 8780:8780 syncer
# It runs `syncer daemon` (see docs/operations.md); `docker run ... syncer run --all` runs once instead.
# tests/daemon/test_process.py runs this file's ENTRYPOINT + CMD and HEALTHCHECK commands against a real daemon.

# Build stage: install syncer and its dependencies into a virtualenv that the runtime stage copies whole.
FROM python:3.11-slim AS build
RUN python -m venv /opt/syncer
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syncer ./syncer
COPY connectors ./connectors
RUN /opt/syncer/bin/pip install --no-cache-dir . && /opt/syncer/bin/pip uninstall -y -q pip

# Runtime stage: no compiler, no pip cache, no source tree; a non-root user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 syncer
COPY --from=build /opt/syncer /opt/syncer
ENV PATH=/opt/syncer/bin:$PATH PYTHONUNBUFFERED=1 SYNCER_LOG_FORMAT=json
USER syncer
WORKDIR /project
EXPOSE 8780
# `syncer health` probes http://127.0.0.1:<daemon.port of /project/syncer.yaml>/healthz: exit 0 healthy, 1 not.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["syncer", "health"]
ENTRYPOINT ["syncer"]
CMD ["daemon", "--host", "0.0.0.0"]
