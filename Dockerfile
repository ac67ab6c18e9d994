# syncer in a container: `docker build -t syncer .` then
# `docker run --env-file .env -v $PWD:/project syncer run --all --project /project`
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 syncer
WORKDIR /app
COPY pyproject.toml README.md ./
COPY syncer ./syncer
COPY connectors ./connectors
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER syncer
WORKDIR /project
ENTRYPOINT ["syncer"]
CMD ["--help"]
