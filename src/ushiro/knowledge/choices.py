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


@with_labels({
    "company": "Company rule",
    "reference": "Reference material",
    "faq": "FAQ",
})
class DocumentKind(Choice):
    """What a document is to the company. Its own rules are what an answer rests on;
    reference material (model rules, government guides, commentary) never outranks them;
    an FAQ is the company's own answer to a common question."""

    COMPANY = "company"
    REFERENCE = "reference"
    FAQ = "faq"


# The label suffix of a commentary passage (【解説】, the notes after an article of model
# rules): the splitter appends it, search ranks such passages below rules, and a citation
# shows that it quotes commentary, not the rule.
COMMENTARY_MARK = "【解説】"
