# Moments: one image for the bot (`moments run --webhook`, the default command), the timers
# (`moments scheduler`) and every other `moments` command (`docker run --rm IMAGE db upgrade`, `... lint`).
# Deploying, shapes and measured sizes: docs/deploy.md; deploy/measure_image.sh rebuilds this file's steps
# without a Docker engine and measures them.
#
#   docker build -t moments .                        # GRAPHVIZ=no (--build-arg) leaves out `dot` (/graph)

# Debian's own Python 3.11 rather than python:3.11-slim: the same packages as a plain Debian machine (and as
# .ci/run), security updates through apt, and a filesystem deploy/measure_image.sh can rebuild with debootstrap.
ARG DEBIAN_TAG=bookworm-slim

# ---- build: a virtualenv with Moments and its dependencies (no dev extras) ---------------------------------------
FROM debian:${DEBIAN_TAG} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY storage ./storage
# Not editable: the package (templates, catalogues, migrations) lives in the venv; pip and setuptools are only
# needed to build it, so they stay out of the runtime image.
RUN python3 -m venv /opt/moments \
 && /opt/moments/bin/pip install --no-cache-dir --disable-pip-version-check /src \
 && /opt/moments/bin/pip uninstall --yes pip setuptools

# ---- runtime ------------------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_TAG} AS runtime
ARG GRAPHVIZ=yes
# python3: the venv's interpreter (same Debian release as the build stage, so the same /usr/bin/python3.11).
# ca-certificates: HTTPS to api.telegram.org. tzdata: the teams' IANA time zones. graphviz: `dot` for /graph.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates tzdata \
 && if [ "$GRAPHVIZ" = yes ]; then apt-get install -y --no-install-recommends graphviz; fi \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 moments \
 && useradd --no-log-init --no-create-home --uid 10001 --gid moments --home-dir /app --shell /usr/sbin/nologin \
    moments \
 && mkdir -p /app/data \
 && chown moments:moments /app/data
COPY --from=build /opt/moments /opt/moments
WORKDIR /app
# The shipped configuration, playbooks and training cards; mount your own over them (docs/deploy.md).
COPY config.yaml ./
COPY playbooks ./playbooks
COPY training ./training

# The code is read-only for the moments user: no .pyc to write (pip compiled them at install). Matplotlib (digest
# charts) keeps its font cache in a writable place instead of warning that /app is not.
ENV PATH=/opt/moments/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONUNBUFFERED=1 \
    MOMENTS_LOG_FORMAT=json
USER moments
# SQLite users keep the database here (DATABASE_URL defaults to sqlite:///data/moments.db, relative to /app).
VOLUME ["/app/data"]
# The webhook server (webhook.port); /healthz and /metrics are on it too.
EXPOSE 8080
# What the process handles gracefully: stop taking updates, finish those in flight, exit within
# shutdown_timeout_seconds (20 s): give `docker stop -t` / stop_grace_period a few seconds more.
STOPSIGNAL SIGTERM
# /healthz answers 200 when the process is up and its database answers. Python itself asks (no curl in the image):
# on METRICS_PORT when set (`moments scheduler`, or polling), else on the webhook port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/moments/bin/python", "-c", "import os, urllib.request; port = os.environ.get('METRICS_PORT') or os.environ.get('WEBHOOK_PORT') or '8080'; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["moments"]
CMD ["run", "--webhook"]
