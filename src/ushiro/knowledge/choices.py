"""Document formats and what adding a file did."""

from __future__ import annotations

from ushiro.core.choices import Choice, with_labels


@with_labels({
    "md": "Markdown",
    "txt": "Text",
    "html": "HTML",
    "pdf": "PDF",
    "docx": "Word (docx)",
})
class DocumentFormat(Choice):
    MARKDOWN = "md"
    TEXT = "txt"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"


# File name suffix → format. Anything else is refused with UNSUPPORTED_FORMAT.
SUFFIXES: dict[str, DocumentFormat] = {
    ".md": DocumentFormat.MARKDOWN,
    ".markdown": DocumentFormat.MARKDOWN,
    ".txt": DocumentFormat.TEXT,
    ".text": DocumentFormat.TEXT,
    ".html": DocumentFormat.HTML,
    ".htm": DocumentFormat.HTML,
    ".pdf": DocumentFormat.PDF,
    ".docx": DocumentFormat.DOCX,
}


@with_labels({
    "added": "Added",
    "new_version": "New version",
    "unchanged": "Unchanged",
})
class AddStatus(Choice):
    ADDED = "added"
    NEW_VERSION = "new_version"
    UNCHANGED = "unchanged"
