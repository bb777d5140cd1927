"""The audit vocabulary is closed: every action is registered with a label."""

from __future__ import annotations

import pytest

from ushiro import audit
from ushiro.audit import ACTIONS, SYSTEM
from ushiro.core.i18n import set_language
from ushiro.core.runtime import Runtime


def test_an_unregistered_action_is_refused_and_nothing_is_written(rt: Runtime) -> None:
    """GIVEN a service that records an action nobody registered WHEN it records THEN the
    call fails at once (a bug surfaced by the first test that runs it)."""
    with pytest.raises(ValueError, match="unregistered audit action"), \
            rt.db.transaction() as session:
        audit.record(session, tenant_id=None, actor=SYSTEM, action="request.teleport",
                     object_type="request", object_id=1)


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_reads_as_japanese_on_the_audit_page(name: str) -> None:
    set_language("ja")
    try:
        shown = audit.action_label(name)
    finally:
        set_language(None)
    assert shown != ACTIONS[name].label and not shown.isascii(), name


def test_an_old_unknown_action_is_shown_as_stored() -> None:
    assert audit.action_label("legacy.thing") == "legacy.thing"
