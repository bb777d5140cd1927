"""What a service needs from the running process: settings, database, file store."""

from __future__ import annotations

from dataclasses import dataclass, field

from ushiro.core.db import Database
from ushiro.core.files import FileStore
from ushiro.core.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    files: FileStore = field(init=False)

    def __post_init__(self) -> None:
        self.files = FileStore(self.settings.files_dir)
        self.db.info["settings"] = self.settings
        self.db.info["runtime"] = self

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(settings, Database(settings.resolved_database_url,
                                      pool_size=settings.db_pool_size))
