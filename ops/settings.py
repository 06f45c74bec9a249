"""One settings object, read from the environment (prefix `SEQUESTER_`).

`load_settings()` is how processes read it: an invalid value is one line naming the
variable (`InvalidSetting`), never pydantic's report.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from domain.errors import InvalidInput, SequesterError
from domain.staff.aggregate import ROLES
from ops.claim_paths import parse_claim_path

#: Asymmetric only: an HS256 token can never be verified with a public key as secret.
ALLOWED_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
DEVELOPMENT_ISSUER = "sequester-dev"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class InvalidSetting(SequesterError):
    """A setting from the environment is invalid; the message names the variable."""

    kind = "InvalidSetting"


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
    jwt_issuer: str = DEVELOPMENT_ISSUER
    jwt_audience: str = "sequester"
    jwks_file: Path | None = None  # default: <key_dir>/jwks.json
    jwks_url: str | None = None
    #: `RS256`, `RS256,ES256` or a JSON list
    jwt_algorithms: Annotated[list[str], NoDecode] = ["EdDSA"]
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    #: where the token's list of roles is: a dotted path, or a JSON Pointer (`/…`)
    jwt_roles_claim: str = "roles"
    #: provider role (or group) name → sequester role name; unset: sequester's own names
    jwt_role_map: Annotated[dict[str, str] | None, NoDecode] = None
    #: the claim holding the staff id (a dotted path or a JSON Pointer, like the roles)
    jwt_staff_id_claim: str = "sub"
    #: the longest a key removed from the JWKS URL stays trusted (also bounds the
    #: memory of verified tokens); a shorter Cache-Control max-age is honoured
    jwks_refresh_seconds: float = Field(default=300.0, ge=1, le=86400)
    #: how long a JWKS fetch may wait for the provider, per connection step
    jwks_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
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

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = _json(text, "a JSON list") if text.startswith("[") else [
                a.strip() for a in text.split(",") if a.strip()]
        if isinstance(value, list):
            unknown = sorted(str(a) for a in value if a not in ALLOWED_ALGORITHMS)
            if unknown or not value:
                raise ValueError(f"refusing token algorithms {unknown or '(none)'}: accepted are "
                                 f"{', '.join(ALLOWED_ALGORITHMS)} (asymmetric only)")
        return value

    @field_validator("jwt_role_map", mode="before")
    @classmethod
    def _role_map(cls, value: object) -> object:
        if isinstance(value, str):
            value = _json(value, "a JSON object") if value.strip() else None
        if isinstance(value, dict):
            unknown = sorted({str(v) for v in value.values()} - ROLES)
            if unknown:
                raise ValueError(f"maps to unknown role(s) {unknown}; sequester's roles are "
                                 f"{', '.join(sorted(ROLES))}")
        elif value is not None:
            raise ValueError('must be a JSON object such as {"Sequester.Director": "director"}')
        return value

    @field_validator("jwt_roles_claim", "jwt_staff_id_claim")
    @classmethod
    def _claim_path(cls, value: str) -> str:
        parse_claim_path(value)
        return value

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme not in ("https", "http"):
            raise ValueError("must be an https:// URL")
        return value or None

    def check_consistency(self) -> None:
        """Rules across settings: production fetches keys over https only (plain http
        is for a provider on this machine)."""
        url = urlparse(self.jwks_url or "")
        if self.production and url.scheme == "http" and url.hostname not in LOOPBACK_HOSTS:
            raise InvalidSetting("invalid setting SEQUESTER_JWKS_URL: production fetches "
                                 "token keys over https:// only")

    @property
    def external_identity_provider(self) -> str | None:
        """The setting that names an identity provider other than development's, if any."""
        if self.jwks_url:
            return "SEQUESTER_JWKS_URL"
        if self.jwt_issuer != DEVELOPMENT_ISSUER:
            return "SEQUESTER_JWT_ISSUER"
        if self.jwks_file is not None and self.jwks_file != self.key_dir / "jwks.json":
            return "SEQUESTER_JWKS_FILE"
        return None

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


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(f"is not {what}") from None


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment; InvalidSetting, one line naming each bad
    variable and what is wrong (never the value: it may be a secret), if any is bad."""
    try:
        settings = Settings(**overrides)
    except ValidationError as e:
        problems = "; ".join(f"{variable(err['loc'])}: {problem(err)}" for err in e.errors())
        raise InvalidSetting(f"invalid setting {problems}") from None
    except SettingsError as e:  # a value pydantic-settings could not even decode
        field = re.search(r'field "(\w+)"', str(e))
        name = variable((field.group(1),)) if field else "(unknown)"
        raise InvalidSetting(f"invalid setting {name}: not in the expected form") from None
    settings.check_consistency()
    return settings


def variable(loc: tuple[Any, ...]) -> str:
    return f"SEQUESTER_{str(loc[0]).upper()}" if loc else "SEQUESTER_?"


def problem(error: Any) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ").replace("\n", " ")
