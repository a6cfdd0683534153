# Townsquare in a container: 'townsquare run' (the website, the fetching, the periodic jobs).
# Untested here: no container engine could run on the machine it was written on.
# See docs/operations.md ("In a container").
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TOWNSQUARE_DB=/data/townsquare.db \
    TOWNSQUARE_HOST=0.0.0.0 \
    TOWNSQUARE_PORT=8080

WORKDIR /opt/townsquare
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY src ./src
RUN python -m venv .venv \
    && .venv/bin/pip install --quiet -c constraints.txt ".[sqlite]" \
    && useradd --system --home-dir /data --create-home --uid 10001 townsquare

USER townsquare
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD [".venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["/opt/townsquare/.venv/bin/townsquare"]
CMD ["run"]
