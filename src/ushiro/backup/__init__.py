"""Consistent backup and restore of the database and the attachment files."""

from ushiro.backup.service import backup, restore

__all__ = ["backup", "restore"]
