"""The demo company's rule set (data/rules/), added through the knowledge service.

Written for さくら精機 and kept consistent with the sample requests: every request the
sample marks with ``rule`` is answered by the article it names, with the same facts. One
file is a PDF and one a DOCX, committed as made once by ``rules/sources/build_binaries.py``
(nothing is generated when the demo runs).
"""

from __future__ import annotations

from importlib import resources

from ushiro import knowledge
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal

# (file under data/rules, document name: what citations call it)
RULE_FILES = (
    ("shugyo-kisoku.md", "就業規則"),
    ("chingin-kitei.md", "賃金規程"),
    ("shutcho-ryohi-kitei.pdf", "出張旅費規程"),
    ("keihi-seisan-kitei.docx", "経費精算規程"),
    ("ikuji-kaigo-kitei.md", "育児・介護休業規程"),
    ("joho-security-kitei.md", "情報セキュリティ規程"),
    ("shanai-faq.md", "社内FAQ"),
)
RULES_TENANT = "sakura"  # the demo company; the second tenant starts without documents


def rule_file(filename: str) -> bytes:
    return resources.files("ushiro.demo").joinpath("data/rules", filename).read_bytes()


def add_rules(rt: Runtime, system: Principal) -> list[knowledge.AddResult]:
    """Every rule file as a document of the tenant of ``system`` (its system principal:
    the demo acts for the company's administrators)."""
    return [knowledge.add_document(rt, system, knowledge.DocumentIn(
                filename=filename, data=rule_file(filename), name=name, title=name))
            for filename, name in RULE_FILES]
