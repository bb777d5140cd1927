"""Every use case other packages may call takes the acting Principal first.

The service checks roles and tenant itself, and background work names itself as a system
principal (``Principal.system(tenant_id, label)``) instead of passing nothing. This test
reads the public surface of every domain: a new exported function that takes the runtime
or the database without a Principal next fails here.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

DOMAINS = ("identity", "desk", "knowledge", "answers", "recurrence", "auditlog", "audit", "jobs")

# Instance-level operations and reads for shared indexes: no tenant principal exists or
# applies. Each with its reason.
INSTANCE_LEVEL = {
    "identity.create_tenant": "creates the tenant a principal would belong to",
    "identity.resolve_tenant": "finds a tenant by slug for the command line",
    "identity.principal": "builds a principal",
    "audit.write_checkpoint": "the whole instance's chains",
    "audit.verify_instance": "the whole instance's chains (the page checks admin first)",
    "jobs.run_pending": "the worker runs every tenant's jobs; each job names its principal",
    "jobs.start_worker_thread": "as run_pending",
    "jobs.prune_finished": "removes every tenant's finished jobs (instance upkeep)",
    "desk.last_request": "a cache stamp (two numbers), for the recurrence index",
    "desk.texts_since": "the words of a tenant's requests for the recurrence index, which "
                        "filters every result by the viewer's rights",
    "recurrence.index_for": "that index",
    "knowledge.synonym_state": "the tenant's dictionary for that index",
    "knowledge.passage_tokens": "words of passages already found by a principal's search",
}


def _use_cases() -> list[tuple[str, inspect.Signature]]:
    found = []
    for domain in DOMAINS:
        module = importlib.import_module(f"ushiro.{domain}")
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj):
                continue
            signature = inspect.signature(obj)
            params = list(signature.parameters.values())
            if params and params[0].name in ("rt", "db"):
                found.append((f"{domain}.{name}", signature))
    return found


@pytest.mark.parametrize(("name", "signature"), _use_cases(), ids=lambda v: str(v)[:60])
def test_a_use_case_takes_the_acting_principal(name: str, signature: inspect.Signature) -> None:
    if name in INSTANCE_LEVEL:
        return
    params = list(signature.parameters.values())
    assert len(params) > 1 and params[1].annotation == "Principal", (
        f"{name}{signature}: take `principal: Principal` after the runtime and check it in "
        "the service (background work: Principal.system(tenant_id, label))")


def test_the_lists_of_exceptions_name_only_real_functions() -> None:
    names = {name for name, _signature in _use_cases()}
    assert set(INSTANCE_LEVEL) <= names
