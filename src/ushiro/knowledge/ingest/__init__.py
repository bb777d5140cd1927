"""Getting documents in: reading a file (:mod:`.extract`, bounded by :mod:`.limits`),
cutting it into passages (:mod:`.passages`, line by line :mod:`.structure`) and into rule
sets (:mod:`.rulesets`), and the write use cases that add, restrict and
retire documents (:mod:`.documents`, :mod:`.manage`)."""

from ushiro.knowledge.ingest.documents import (
    add_document,
    add_file,
    add_files,
    document_name,
    publish_faq,
)
from ushiro.knowledge.ingest.manage import restrict_document, retire_document, set_document_kind

__all__ = ["add_document", "add_file", "add_files", "document_name", "publish_faq",
           "restrict_document", "retire_document", "set_document_kind"]
