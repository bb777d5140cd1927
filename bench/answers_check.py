#!/usr/bin/env python
"""Sanity check of an answer set's JSON against its documents, without running Ushiro.

For every line of the question file: it parses, has the fields its kind of question needs,
ids are unique; for an answerable question, the cited article is a heading (``### 第N条``)
of the cited document, at least one of ``facts`` occurs in that article's text and no
``contradicts`` string does (after NFKC, as ``bench/answers.py`` compares). Unanswerable
questions carry no document. Reads only the JSON and the documents of the corpus file.

    python bench/answers_check.py --corpus bench/data/answers/corpus-tuqulore.json \\
        --questions-file bench/data/answers/heldout2-tuqulore.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
KINDS = {"amount", "days", "date", "deadline", "age", "yesno", "procedure", "what", "condition"}
_HEADING = re.compile(r"^#{2,3}\s*(第[0-9]+条(?:の[0-9]+)?)[\s　]", re.M)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def articles(markdown: str) -> dict[str, str]:
    """Article label -> its text, from its heading to the next heading of any level."""
    out: dict[str, str] = {}
    heads = list(re.finditer(r"^#{1,3}\s.*$", markdown, re.M))
    for i, head in enumerate(heads):
        m = _HEADING.match(head.group(0) + " ")
        if m:
            end = heads[i + 1].start() if i + 1 < len(heads) else len(markdown)
            out[m.group(1)] = markdown[head.start():end]
    return out


def problems(row: dict[str, Any], docs: dict[str, dict[str, str]]) -> list[str]:
    if not isinstance(row.get("question"), str) or not row["question"].strip():
        return ["no question"]
    if row.get("answerable") is False:
        return ["unanswerable with a document"] if "document" in row else []
    if row.get("answerable") is not True:
        return ["answerable is neither true nor false"]
    found = []
    if row.get("kind") not in KINDS:
        found.append(f"kind {row.get('kind')!r}")
    text = docs.get(row.get("document", ""), {}).get(row.get("article", ""))
    if text is None:
        return found + [f"{row.get('document')} {row.get('article')}: no such heading"]
    body = fold(text)
    if not row.get("facts") or not any(fold(f) in body for f in row["facts"]):
        found.append("no fact occurs in the article")
    found += [f"contradicts {c!r} occurs in the article"
              for c in row.get("contradicts", []) if fold(c) in body]
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", type=Path, default=DATA / "answers" / "corpus.json")
    p.add_argument("--questions-file", type=Path, required=True)
    args = p.parse_args(argv)
    corpus = json.loads(args.corpus.read_text("utf-8"))
    docs = {Path(d["path"]).stem: articles((DATA / d["path"]).read_text("utf-8"))
            for d in corpus["documents"]}
    bad, rows = 0, []
    for n, line in enumerate(args.questions_file.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            print(f"line {n}: does not parse: {exc}")
            bad += 1
            continue
        rows.append(row)
        for problem in problems(row, docs):
            print(f"line {n} {row.get('id')}: {problem}")
            bad += 1
    ids = Counter(r.get("id") for r in rows)
    for dup in [i for i, c in ids.items() if c > 1]:
        print(f"duplicate id {dup}")
        bad += 1
    answerable = [r for r in rows if r.get("answerable") is True]
    kinds = Counter(r.get("kind") for r in answerable)
    print(f"{args.questions_file.name}: {len(answerable)} answerable, "
          f"{len(rows) - len(answerable)} unanswerable; kinds {dict(sorted(kinds.items()))}; "
          f"{bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
