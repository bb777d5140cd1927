"""Consistent backup and restore of the database and the attachment files."""

from ushiro.backup.service import backup, restore, verify_backup

__all__ = ["backup", "restore", "verify_backup"]
