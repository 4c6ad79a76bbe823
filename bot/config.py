"""One typed configuration object, built once from config.yaml plus environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.matcher import MatchSettings
from bot.core.playbook import ROLES

DEFAULT_API_BASE = "https://api.telegram.org"


class ConfigError(Exception):
    """A configuration people must fix; the message is meant for them, in one paragraph."""


_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class WebhookConfig(BaseModel):
    """Webhook mode (`moments run --webhook`): Telegram POSTs updates to `url`; this process listens on host:port."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False  # the same as `moments run --webhook`
    url: str = ""  # the public HTTPS address Telegram posts to, e.g. https://bot.example.com/telegram
    path: str | None = None  # the path served here; default: the path of `url` (set it when a proxy rewrites)
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)
    # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token; prefer the WEBHOOK_SECRET environment variable.
    secret_token: str | None = None
    drop_pending_updates: bool = False  # True forgets what staff sent while no process was serving
    max_connections: int = Field(40, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL such as https://bot.example.com/telegram")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"{value!r} must start with /")
        return value

    @field_validator("secret_token")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        # Telegram's own rule for secret_token: 1-256 characters, A-Z a-z 0-9 _ -.
        if value is not None and not (1 <= len(value) <= 256 and set(value) <= _SECRET_CHARS):
            raise ValueError("the secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def serve_path(self) -> str:
        if self.path:
            return self.path
        from urllib.parse import urlsplit

        return urlsplit(self.url).path or "/"


class MetricsConfig(BaseModel):
    """/healthz and /metrics on their own port (both modes); in webhook mode they are also on the webhook server."""

    model_config = ConfigDict(extra="forbid")
    port: int | None = Field(None, ge=0, le=65535)
    host: str = "0.0.0.0"


class SchedulerConfig(BaseModel):
    """Timers (bot/scheduler.py). Several bot processes: `enabled: false` on them; one `moments scheduler` runs
    the jobs."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True  # false: the same as `moments run --no-scheduler`
    # How often `moments scheduler` looks for timers that other processes set.
    wakeup_seconds: float = Field(5.0, gt=0, le=300)


class PlaybooksConfig(BaseModel):
    """The live playbook set in a process that shares its database with others (bot/playbook_refresh.py)."""

    model_config = ConfigDict(extra="forbid")
    # How often each process looks whether another one (or `moments playbooks sync`) changed the live set;
    # 0: never (a single process sees its own publishes at once anyway).
    refresh_seconds: float = Field(5.0, ge=0, le=3600)


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    json_lines: bool = Field(False, alias="json")  # one JSON object per line, for log collectors


class MatchingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_score: float = Field(60.0, ge=0, le=100)
    autostart_score: float = Field(88.0, ge=0, le=100)
    autostart_margin: float = Field(12.0, ge=0, le=100)

    def settings(self) -> MatchSettings:
        return MatchSettings(self.min_score, self.autostart_score, self.autostart_margin)


class TeamConfig(BaseModel):
    """A team as config.yaml declares it; applied at every start (the file is the source for these fields)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    timezone: str | None = None
    currency: str | None = None
    language: str | None = None
    limits: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value) if value is not None else None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return _check_currency(value) if value is not None else None

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return _check_limits(value)


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Rome") from exc
    return value


def _check_currency(value: str) -> str:
    from babel.numbers import get_currency_name

    code = value.upper()
    if len(code) != 3 or get_currency_name(code) == code:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as EUR")
    return code


def _check_limits(value: dict[str, Decimal]) -> dict[str, Decimal]:
    for role, amount in value.items():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if amount < 0:
            raise ValueError(f"the limit for {role} is negative")
    return value


class DigestConfig(BaseModel):
    """When the weekly digest goes out: a weekday and a time in each team's own time zone."""

    model_config = ConfigDict(extra="forbid")
    weekday: str = "mon"
    time: str = "08:00"

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            raise ValueError(f"{value!r} is not a weekday such as mon")
        return day

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(f"{value!r} is not a time such as 08:00")
        return f"{int(hour):02d}:{int(minute):02d}"

    @property
    def hour(self) -> int:
        return int(self.time.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.time.split(":")[1])


def _check_clock(value: str) -> str:
    hour, _, minute = value.strip().partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"{value!r} is not a time such as 08:00")
    return f"{int(hour):02d}:{int(minute):02d}"


class TrainingConfig(BaseModel):
    """Micro-training: how many refreshers a day, when never, and how fast they may be sent."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    per_day: int = Field(3, ge=1, le=20)  # scheduled cards per person and local day (/train is extra)
    new_per_day: int = Field(2, ge=0, le=20)  # of those, cards never seen before
    # Never a card in these local hours, even inside a shift (start-end, may wrap midnight).
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    # People without a shift on record get cards on these days (0 = Monday) and hours.
    default_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    default_start: str = "09:00"
    default_end: str = "17:00"
    tick_seconds: int = Field(60, ge=5, le=3600)  # how often due cards are looked for
    # Telegram's limits for bots: about 30 messages/s in all, 1 message/s per chat.
    messages_per_second: float = Field(30.0, gt=0, le=1000)
    per_chat_seconds: float = Field(1.0, ge=0, le=60)
    senders: int = Field(4, ge=1, le=64)  # requests in flight at once
    # A card claimed for sending by a process that died is sent again after this many seconds.
    stale_claim_seconds: int = Field(30, ge=1, le=3600)

    @field_validator("quiet_start", "quiet_end", "default_start", "default_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return _check_clock(value)

    @field_validator("default_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(day < 0 or day > 6 for day in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(value))


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_token: str | None = None
    telegram_api_base: str = DEFAULT_API_BASE
    database_url: str = "sqlite:///data/moments.db"
    # Upgrade the schema (storage/migrations) at every start; off where deploys run `moments db upgrade` instead.
    database_migrate_on_start: bool = True
    playbooks_dir: Path = Path("playbooks")
    admins: list[int] = Field(default_factory=list)
    default_team: str = "main"
    default_language: str = "en"
    default_timezone: str = "UTC"
    currency: str = "EUR"
    teams: list[TeamConfig] = Field(default_factory=list)
    limits: dict[str, Decimal] = Field(default_factory=lambda: {"staff": Decimal(25), "lead": Decimal(100),
                                                                "manager": Decimal(300)})
    note_max_length: int = Field(300, ge=20, le=3000)
    escalation_timeout_seconds: int = Field(180, ge=1, le=24 * 3600)
    note_retention_days: int = Field(90, ge=1, le=3650)
    # None: on (300 s) for SQLite, off for PostgreSQL, where several bot processes may share the database.
    conversation_cache_seconds: float | None = Field(None, ge=0, le=24 * 3600)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    training_dir: Path = Path("training")
    log_level: str = "INFO"
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    playbooks: PlaybooksConfig = Field(default_factory=PlaybooksConfig)
    # SIGTERM: stop taking updates, finish those in flight, flush, and exit within this many seconds.
    shutdown_timeout_seconds: float = Field(20.0, gt=0, le=600)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return _check_currency(value)

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return _check_limits(value)

    def conversation_cache(self) -> float:
        """Seconds a conversation is served from memory (bot/fsm_storage.py): only right with one bot process."""
        if self.conversation_cache_seconds is not None:
            return self.conversation_cache_seconds
        return 300.0 if self.database_url.startswith("sqlite") else 0.0

    def require_token(self) -> str:
        if not self.bot_token:
            raise ConfigError(
                "No bot token. Create a bot with @BotFather in Telegram, copy the token it gives you, and "
                "set it as BOT_TOKEN in the environment (or bot_token in config.yaml). To try Moments "
                "without a token, run `moments demo`."
            )
        return self.bot_token


ENV_KEYS = {
    "BOT_TOKEN": "bot_token",
    "TELEGRAM_API_BASE": "telegram_api_base",
    "DATABASE_URL": "database_url",
    "MOMENTS_DB_MIGRATE": "database_migrate_on_start",
    "PLAYBOOKS_DIR": "playbooks_dir",
    "TRAINING_DIR": "training_dir",
    "MOMENTS_ADMINS": "admins",
    "MOMENTS_ESCALATION_TIMEOUT": "escalation_timeout_seconds",
    "MOMENTS_CONVERSATION_CACHE": "conversation_cache_seconds",
    "MOMENTS_SHUTDOWN_TIMEOUT": "shutdown_timeout_seconds",
}
# Settings inside a section: (section, key).
NESTED_ENV_KEYS = {
    "WEBHOOK_URL": ("webhook", "url"),
    "WEBHOOK_SECRET": ("webhook", "secret_token"),
    "WEBHOOK_HOST": ("webhook", "host"),
    "WEBHOOK_PORT": ("webhook", "port"),
    "METRICS_PORT": ("metrics", "port"),
    "MOMENTS_SCHEDULER": ("scheduler", "enabled"),
    "MOMENTS_SCHEDULER_WAKEUP": ("scheduler", "wakeup_seconds"),
    "MOMENTS_PLAYBOOKS_REFRESH": ("playbooks", "refresh_seconds"),
}


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file (MOMENTS_CONFIG, else ./config.yaml if present) and apply environment overrides."""
    env = os.environ if environ is None else environ
    explicit = path or env.get("MOMENTS_CONFIG")
    file = Path(explicit) if explicit else Path("config.yaml")
    values: dict[str, Any] = {}
    if file.exists():
        values = _read_file(file)
    elif explicit:
        raise ConfigError(f"The configuration file {file} does not exist. Check MOMENTS_CONFIG or the path "
                          "you gave, or remove it to use the defaults.")
    for variable, key in ENV_KEYS.items():
        raw = env.get(variable)
        if raw is None or raw == "":
            continue
        values[key] = _parse_admins(raw) if key == "admins" else raw
    for variable, (section, key) in NESTED_ENV_KEYS.items():
        raw = env.get(variable)
        if raw is None or raw == "":
            continue
        values[section] = {**_section(values, section, file), key: raw}
    log_format = env.get("MOMENTS_LOG_FORMAT", "").strip().lower()
    if log_format:
        if log_format not in ("json", "text"):
            raise ConfigError(f"MOMENTS_LOG_FORMAT must be json or text, got {log_format!r}.")
        values["logging"] = {**_section(values, "logging", file), "json": log_format == "json"}
    try:
        return Config.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                             for err in exc.errors())
        raise ConfigError(f"The configuration in {file} (with environment overrides) is not valid: {problems}. "
                          "Fix these values and start again.") from exc


def _read_file(file: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"The configuration file {file} is not valid YAML{where}: {exc.problem}. "
                          "Fix it and start again.") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"The configuration file {file} cannot be read: {exc}.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"The configuration file {file} must be a mapping of settings (key: value).")
    return data


def _section(values: dict[str, Any], name: str, file: Path) -> dict[str, Any]:
    section = values.get(name) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{name} in {file} must be a mapping of settings (key: value).")
    return section


def _parse_admins(raw: str) -> list[int]:
    try:
        return [int(part) for part in raw.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise ConfigError(f"MOMENTS_ADMINS must be comma-separated Telegram user ids, got {raw!r}.") from exc
