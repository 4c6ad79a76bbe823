"""The container files (Dockerfile, docker-compose.yml, .env.example, deploy/Caddyfile) against the code they
start: what can be checked without a Docker engine. deploy/measure_image.sh builds and runs the image for real."""

from __future__ import annotations

import argparse
import fnmatch
import http.server
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot import cli
from bot.app import check_webhook_config
from bot.config import ENV_KEYS, NESTED_ENV_KEYS, Config, load_config

ROOT = Path(__file__).resolve().parent.parent
MOMENTS_SERVICES = ("migrate", "bot", "scheduler")
INTERPOLATION = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


# ---- reading the files ------------------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from the .env file."""

    def one(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(0)[2 + len(match.group(1)):-1]
        if env.get(name):
            return env[name]
        assert not rest.startswith((":?", "?")), f"{name} is required by docker-compose.yml but empty"
        return rest[2:] if rest.startswith(":-") else rest[1:] if rest.startswith("-") else ""

    return INTERPOLATION.sub(one, value)


def service_env(service: str) -> dict[str, str]:
    """The environment a moments service runs with, given .env.example as .env."""
    raw = compose()["services"][service].get("environment") or {}
    assert isinstance(raw, dict), f"{service}: environment as a mapping, so the anchors merge"
    return {name: interpolate(str(value), env_example()) for name, value in raw.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def instruction(name: str) -> list[str]:
    return [rest for word, rest in dockerfile_instructions() if word == name]


def variables_the_config_reads() -> set[str]:
    """Every environment variable load_config looks at: the tables plus the ones it reads by name."""
    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    named = set(re.findall(r"env\.get\(\"([A-Z_]+)\"", source))
    assert named, "load_config reads MOMENTS_CONFIG and MOMENTS_LOG_FORMAT by name"
    return set(ENV_KEYS) | set(NESTED_ENV_KEYS) | named


def parse_command(args: list[str]) -> argparse.Namespace:
    try:
        return cli._parser().parse_args(args)
    except SystemExit as exc:  # argparse's way of refusing
        raise AssertionError(f"`moments {' '.join(args)}` is not a moments command") from exc


# ---- docker-compose.yml -----------------------------------------------------------------------------------------

def test_compose_has_the_services_of_the_supported_shape() -> None:
    services = compose()["services"]
    assert {"postgres", "migrate", "bot", "scheduler", "proxy"} <= set(services)
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    # The moments services are one image; they start only once the schema is upgraded.
    for name in MOMENTS_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"] == "moments:latest"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("bot", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service_env(name)["MOMENTS_DB_MIGRATE"] == "0"
    assert "ports" not in services["bot"], "a published port would clash with --scale bot=N"


def test_compose_commands_are_real_moments_commands() -> None:
    services = compose()["services"]
    bot = parse_command(services["bot"]["command"])
    assert bot.handler is cli._run and bot.webhook and bot.no_scheduler  # README: N of these...
    assert parse_command(services["scheduler"]["command"]).handler is cli._scheduler  # ...and exactly one of these
    assert parse_command(services["migrate"]["command"]).handler is cli._db_upgrade
    assert "deploy" not in services["scheduler"] or services["scheduler"]["deploy"].get("replicas", 1) == 1


@pytest.mark.parametrize("service", MOMENTS_SERVICES)
def test_every_variable_given_to_moments_is_one_the_config_reads(service: str) -> None:
    unknown = set(service_env(service)) - variables_the_config_reads()
    assert not unknown, f"{service}: moments does not read {sorted(unknown)}"


@pytest.mark.parametrize("service", MOMENTS_SERVICES)
def test_the_compose_environment_is_a_valid_configuration(service: str) -> None:
    config = load_config(ROOT / "config.yaml", environ=service_env(service))
    assert config.database_url.startswith("postgresql://moments:")
    assert config.database_url.endswith("@postgres:5432/moments")
    assert config.database_migrate_on_start is False
    assert config.logging.json_lines
    if service == "bot":
        check_webhook_config(config)  # a URL and a secret Telegram accepts
        assert config.webhook.url.startswith("https://") and config.webhook.port == 8080
    if service == "scheduler":
        assert config.metrics.port is not None, "its HEALTHCHECK needs /healthz on METRICS_PORT"


def test_env_example_names_only_what_compose_or_moments_uses() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    interpolated = set(INTERPOLATION.findall(text))
    example = env_example()
    for secret in ("BOT_TOKEN", "WEBHOOK_SECRET", "POSTGRES_PASSWORD"):
        assert "replace-me" in example[secret], f"{secret}: a placeholder, never a real value"
    stray = set(example) - interpolated
    assert not stray, f".env.example sets {sorted(stray)}, which docker-compose.yml never uses"
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):?\?", text))
    missing = required - set(example)
    assert not missing, f"required by docker-compose.yml, missing from .env.example: {sorted(missing)}"


def test_stop_grace_outlasts_the_shutdown_timeout() -> None:
    services = compose()["services"]
    for name in ("bot", "scheduler"):
        grace = services[name]["stop_grace_period"]
        assert grace.endswith("s")
        timeout = load_config(ROOT / "config.yaml", environ=service_env(name)).shutdown_timeout_seconds
        assert float(grace[:-1]) > timeout, f"{name}: Docker would SIGKILL before moments has stopped"


def test_the_proxy_forwards_the_webhook_path_to_the_bot_port() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    path = urlsplit(service_env("bot")["WEBHOOK_URL"]).path
    assert f"handle {path} {{" in caddyfile
    assert re.search(r"\bname bot\b", caddyfile) and re.search(r"\bport 8080\b", caddyfile)
    assert "respond 404" in caddyfile, "only the webhook path is public: /metrics and /healthz are not"
    proxy = compose()["services"]["proxy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]


# ---- Dockerfile -------------------------------------------------------------------------------------------------

def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_only_paths_that_exist_and_are_in_the_context() -> None:
    copies = instruction("COPY")
    assert copies
    ignored = dockerignore()
    for arguments in copies:
        parts = json.loads(arguments) if arguments.startswith("[") else arguments.split()
        if any(part.startswith("--from=") for part in parts):
            continue
        sources = [part for part in parts[:-1] if not part.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), \
                f"COPY {source}: excluded by .dockerignore"


def test_dockerfile_runs_the_webhook_bot_as_a_user_with_sigterm() -> None:
    entrypoint = json.loads(instruction("ENTRYPOINT")[-1])
    command = json.loads(instruction("CMD")[-1])
    assert entrypoint == ["moments"]
    args = parse_command(command)
    assert args.handler is cli._run and args.webhook
    assert instruction("STOPSIGNAL") == ["SIGTERM"]
    assert instruction("USER") == ["moments"]
    assert instruction("EXPOSE") == [str(Config().webhook.port)]
    assert instruction("VOLUME") == ['["/app/data"]']
    # DATABASE_URL's default is relative to the working directory: the data volume must be where it points.
    assert instruction("WORKDIR")[-1] == "/app" and Config().database_url == "sqlite:///data/moments.db"


def healthcheck_code() -> str:
    (check,) = instruction("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3:].strip())
    assert command[:2] == ["/opt/moments/bin/python", "-c"]
    return str(command[2])


def test_healthcheck_asks_the_port_moments_serves_healthz_on() -> None:
    code = healthcheck_code()
    assert f"or '{Config().webhook.port}'" in code  # the default webhook port
    assert code.index("METRICS_PORT") < code.index("WEBHOOK_PORT"), "the scheduler serves /healthz on METRICS_PORT"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("variable", "status", "healthy"), [
    ("WEBHOOK_PORT", 200, True), ("METRICS_PORT", 200, True), ("METRICS_PORT", 503, False),
])
def test_healthcheck_passes_on_200_and_fails_otherwise(health_server: http.server.HTTPServer, variable: str,
                                                       status: int, healthy: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Health, "status", status)
    port = str(health_server.server_address[1])
    env = {variable: port} if variable == "METRICS_PORT" else {variable: port, "METRICS_PORT": ""}
    done = subprocess.run([sys.executable, "-c", healthcheck_code()], env=env, capture_output=True, timeout=30)
    assert (done.returncode == 0) is healthy, done.stderr.decode()


# ---- packaging: what a non-editable install (the image's) ships ---------------------------------------------------

def test_every_data_file_of_the_packages_is_in_package_data() -> None:
    """Templates, catalogues and migration templates read at run time must be in the wheel, not only the checkout."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns: dict[str, list[str]] = settings["package-data"]
    for package in ("bot", "storage"):
        folder = ROOT / package
        shipped = {path for pattern in patterns.get(package, []) for path in folder.glob(pattern)}
        data = {path for path in folder.rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")
                and "__pycache__" not in path.parts}
        missing = sorted(str(path.relative_to(ROOT)) for path in data - shipped)
        assert not missing, f"not in the wheel (pyproject package-data): {missing}"
