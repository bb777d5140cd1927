"""Operator's upkeep: `ushiro files gc` and `ushiro doctor`."""
