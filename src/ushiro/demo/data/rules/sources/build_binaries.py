#!/usr/bin/env python3
"""Make the demo's two binary rule files from their Markdown sources (run once, by hand).

    python build_binaries.py            # writes ../keihi-seisan-kitei.docx, ../shutcho-ryohi-kitei.pdf

The outputs are committed: the demo never runs this (it would need Chromium at run time).
DOCX: python-docx (a dependency of the project), the article lines as ordinary bold
paragraphs, the way most companies type their 規程 in Word. PDF: the source as a plain
HTML page printed by headless Chromium (Debian's ``chromium``, Noto CJK fonts), A4.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent
ARTICLE = re.compile(r"^## (第[0-9]+条（.+?）)$")


def _lines(source: Path) -> list[str]:
    return [line.rstrip() for line in source.read_text("utf-8").splitlines()]


def build_docx(source: Path, target: Path) -> None:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Yu Mincho", Pt(10.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Yu Mincho")
    document.core_properties.title = _lines(source)[0].lstrip("# ")
    document.core_properties.author = "さくら精機株式会社 総務部"
    for line in _lines(source):
        if not line:
            continue
        if line.startswith("# "):
            document.add_heading(line[2:], level=1)
        elif match := ARTICLE.match(line):
            document.add_paragraph().add_run(match.group(1)).bold = True
        else:
            document.add_paragraph(line)
    document.save(str(target))


def _html(source: Path) -> str:
    title = html.escape(_lines(source)[0].lstrip("# "))
    body = []
    for line in _lines(source):
        if not line:
            continue
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif match := ARTICLE.match(line):
            body.append(f"<h2>{html.escape(match.group(1))}</h2>")
        else:
            body.append(f"<p>{html.escape(line)}</p>")
    return (f"<!doctype html><html lang='ja'><meta charset='utf-8'><title>{title}</title><style>"
            "@page{size:A4;margin:22mm 20mm}"
            "body{font-family:'Noto Serif CJK JP',serif;font-size:10.5pt;line-height:1.7}"
            "h1{font-size:16pt;text-align:center;margin-bottom:18pt}"
            "h2{font-size:10.5pt;margin:12pt 0 2pt}p{margin:0 0 3pt}"
            "</style><body>" + "\n".join(body) + "</body></html>")


def build_pdf(source: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(_html(source), "utf-8")
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-pdf-header-footer", f"--print-to-pdf={target}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)


def main() -> None:
    build_docx(HERE / "keihi-seisan-kitei.md", OUT / "keihi-seisan-kitei.docx")
    build_pdf(HERE / "shutcho-ryohi-kitei.md", OUT / "shutcho-ryohi-kitei.pdf")
    print("wrote", OUT / "keihi-seisan-kitei.docx", OUT / "shutcho-ryohi-kitei.pdf",
          file=sys.stderr)


if __name__ == "__main__":
    main()
