"""One settings object, read from the environment (prefix `SEQUESTER_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.errors import InvalidInput


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEQUESTER_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./var/sequester.db"
    key_dir: Path = Path("./var/keys")
    key_source: Literal["files", "env"] = "files"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    data_key_cache_size: int = Field(default=10_000, ge=1)
    data_key_cache_ttl_seconds: float = Field(default=300.0, gt=0)
    #: run the projection workers inside the API process (default: in development only;
    #: production runs `sequester project` as its own process)
    projections_in_process: bool | None = None
    read_wait_seconds: float = Field(default=5.0, gt=0, le=30)
    readiness_max_lag: int = Field(default=1000, ge=0)
    #: the log's name in signed checkpoints. Unset, it is the checkpoint signing key's
    #: name (`keys init` names a new key after this setting, or generates a unique name);
    #: set, it must equal the key's name, or the service refuses to start.
    checkpoint_origin: str | None = None
    #: serve /audit/log/checkpoint and the hash tiles without a token (default: auditors)
    audit_log_public: bool = False
    #: the served checkpoint is signed anew at most this often, and only once the log grew
    checkpoint_interval_seconds: float = Field(default=60.0, ge=0, le=86_400)
    jwt_issuer: str = "sequester-dev"
    jwt_audience: str = "sequester"
    jwks_file: Path | None = None  # default: <key_dir>/jwks.json
    jwks_url: str | None = None
    jwt_algorithms: list[str] = ["EdDSA"]
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    required_agreement_version: str | None = None
    #: Dual relationships: the look-back after a client's case closes, in months, or
    #: "never" (prohibited whenever the person was ever a client); and the days after
    #: hire within which a relationship that predates hire must be reported.
    dual_relationship_lookback_months: int | None = Field(default=24, ge=0)
    dual_relationship_report_within_days: int = Field(default=30, ge=0)
    break_glass_minutes: int = Field(default=240, ge=1, le=1440)
    postgres_pool_size: int = Field(default=5, ge=1)
    postgres_lock_timeout_seconds: int = Field(default=5, ge=1)
    #: how long a request waits for a database connection (the pool's wait, which also
    #: covers reconnecting); past it the request fails with 503 instead of hanging
    postgres_connect_timeout_seconds: int = Field(default=5, ge=1, le=60)
    #: request bodies larger than this get 413 (the largest valid body, a dual-relationship
    #: decision with 50 conditions, is ~110,000 characters: 1 MiB leaves room for escapes)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    @field_validator("dual_relationship_lookback_months", mode="before")
    @classmethod
    def _never(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() == "never" else value

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def run_projections_in_process(self) -> bool:
        if self.projections_in_process is None:
            return not self.production
        return self.projections_in_process

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def persistence_env(self) -> dict[str, str]:
        """The `env` mapping for eventsourcing's infrastructure factory."""
        url = urlparse(self.database_url)
        if url.scheme == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if url.scheme == "sqlite":
            path = self.sqlite_path()
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}
        if self.is_postgres:
            query = parse_qs(url.query)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
                "POSTGRES_HOST": url.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(url.port or 5432),
                "POSTGRES_USER": unquote(url.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(url.password or ""),
                "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
                "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
                "POSTGRES_LOCK_TIMEOUT": str(self.postgres_lock_timeout_seconds),
                "POSTGRES_CONNECT_TIMEOUT": str(self.postgres_connect_timeout_seconds),
                "POSTGRES_PRE_PING": "n",
            }
        raise InvalidInput(
            "SEQUESTER_DATABASE_URL must start with sqlite:///, postgresql:// or memory:// "
            f"(got scheme {url.scheme!r})"
        )

    def jwks_path(self) -> Path | None:
        if self.jwks_url:
            return None
        return self.jwks_file or self.key_dir / "jwks.json"

    def sqlite_path(self) -> str:
        path = self.database_url.removeprefix("sqlite:///")
        if not path:
            raise InvalidInput("SEQUESTER_DATABASE_URL sqlite:/// needs a file path")
        if path != ":memory:" and "mode=memory" not in path:
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path
