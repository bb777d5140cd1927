"""The one typed settings object. Environment variables start with ``USHIRO_``.

Admin-editable policy (mail accounts, taxonomy, …) lives in the database, not here.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ushiro.core.files import open_private, private_dir

DEFAULT_DATA_DIR = Path("ushiro-data")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="USHIRO_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="データディレクトリ")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in the data directory when unset"
    )
    secret_key: str | None = Field(
        default=None, description="Signs session cookies; generated into the data dir if unset"
    )
    cookie_secure: bool = Field(default=False, description="Send cookies only over HTTPS")
    base_url: str = "http://127.0.0.1:8000"
    default_locale: str = "ja"
    timezone: str = "Asia/Tokyo"
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_mail_bytes: int = 25 * 1024 * 1024
    max_body_chars: int = 100_000
    max_document_bytes: int = Field(default=20 * 1024 * 1024,
                                    description="Largest knowledge document accepted (bytes)")
    login_max_failures: int = 5
    login_window_seconds: int = 900
    session_max_age_seconds: int = Field(
        default=12 * 3600, ge=60, description="A browser stays signed in this long at most")
    jobs_inline: bool = Field(default=False, description="Run background jobs right after commit")
    worker_in_process: bool = Field(default=True, description="`serve` runs a job worker thread "
                                    "(`serve --no-jobs` turns it off)")
    jobs_retention_days: int = Field(
        default=7, ge=1, description="Done jobs are deleted this many days after they "
                                     "finished; failed ones after four times as long")
    db_pool_size: int = 10
    mail_ca_file: str | None = Field(default=None, description="Extra CA bundle for IMAP/SMTP TLS")
    mail_poll_seconds: int = 60
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint (…/v1) for drafts; offline if unset")
    llm_model: str = Field(default="", description="Model name sent to the endpoint")
    llm_api_key: str | None = Field(default=None, description="Bearer token for the endpoint")
    llm_timeout_seconds: float = Field(default=30, description="Wait this long, then draft offline")
    selfservice_window: int = Field(
        default=30, ge=1, description="Reviewed drafts a category needs before self-service")
    selfservice_threshold: float = Field(
        default=0.90, ge=0.0, le=1.0,
        description="Share of those drafts accepted without substantive edit it needs")
    embedding_model_dir: Path | None = Field(
        default=None,
        description="sentence-transformers model directory (copied, never downloaded) for "
                    "dense retrieval fused with BM25; BM25 only if unset")
    embedding_query_prefix: str | None = Field(
        default=None, description="Put before questions; the model's own query prompt if unset")
    embedding_document_prefix: str | None = Field(
        default=None, description="Put before passages; the model's own document prompt if unset")
    embedding_threads: int = Field(
        default=1, ge=1, description="CPU threads torch uses per process for embeddings")
    search_cache_mb: int = Field(
        default=256, ge=0,
        description="Memory for built search indexes per process (MB, least recently used "
                    "evicted first); 0: no index kept in memory")
    search_index_dir: Path | None = Field(
        default=None, description="Where built search indexes are kept (derived data, not "
                                  "backed up); the data directory's indexes/ if unset")
    search_persist: bool = Field(
        default=True, description="Save built search indexes and load them memory-mapped")
    mail_max_mime_depth: int = Field(
        default=20, ge=1, description="Deepest MIME nesting accepted; deeper mail is quarantined")
    mail_max_parts: int = Field(
        default=200, ge=1, description="Most MIME parts in one mail; more is quarantined")
    mail_max_decoded_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1,
        description="Most bytes all parts of one mail may decode to; more is quarantined")
    mail_max_html_chars: int = Field(
        default=2_000_000, ge=1,
        description="HTML converted to text per mail; the rest stays in the original mail")
    mail_authserv_id: str | None = Field(
        default=None,
        description="authserv-id of our receiving server's Authentication-Results header; "
                    "the topmost header is trusted if unset")
    trusted_proxies: str = Field(
        default="", description="Reverse proxies (addresses or networks, comma-separated) "
                                "whose X-Forwarded-For is believed; none if unset")

    # Bounds on the work one knowledge document may cause (docs/knowledge.md "Limits").
    max_document_inflated_bytes: int = Field(
        default=40 * 1024 * 1024, ge=1,
        description="Most bytes a docx may inflate to, all members, counted while inflating")
    max_document_zip_members: int = Field(
        default=2_000, ge=1, description="Most members (parts) in a docx")
    max_document_pages: int = Field(default=1_000, ge=1, description="Most pages of a PDF")
    max_document_chars: int = Field(
        default=3_000_000, ge=1, description="Most characters of text one document may yield")
    max_document_html_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1, description="Largest HTML document parsed (bytes)")
    max_document_seconds: float = Field(
        default=120.0, gt=0, description="Longest text extraction of one document (checked "
                                         "between PDF pages)")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in value.split(","):
            try:
                ipaddress.ip_network(item.strip(), strict=False) if item.strip() else None
            except ValueError:
                raise ValueError(f"USHIRO_TRUSTED_PROXIES: 「{item.strip()}」は IP アドレスでも"
                                 "ネットワーク(例: 10.0.0.0/8)でもありません") from None
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        # Read once, when the app is built (a property: model_copy would keep a cached one).
        return tuple(ipaddress.ip_network(item.strip(), strict=False)
                     for item in self.trusted_proxies.split(",") if item.strip())

    @field_validator("embedding_model_dir", "search_index_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # USHIRO_EMBEDDING_MODEL_DIR= would otherwise become Path("."), the working directory.
        return None if isinstance(value, str) and not value.strip() else value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ushiro.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def index_dir(self) -> Path:
        return self.search_index_dir or self.data_dir / "indexes"

    def resolved_secret_key(self) -> str:
        """The configured key, else one kept in the data directory (created on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        private_dir(self.data_dir)
        key = secrets.token_urlsafe(48)
        with os.fdopen(open_private(path), "w") as out:
            out.write(key)
        return key


def load_settings(**overrides: object) -> Settings:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
