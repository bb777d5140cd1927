#!/usr/bin/env python
"""Intake latency beside a large `ushiro kb add`: does adding a document stall intake?

Sets up the server exactly as ``intake.py`` does (a throw-away data directory, SQLite or a
fresh PostgreSQL schema, a requester with an API token, ``ushiro serve`` as a subprocess,
N raw keep-alive clients posting to ``POST /api/v1/requests``), and generates a rules
document of ``--mb`` MB (default 5; 第N条 articles with captions and a 章 every ten, built
from the templates of ``knowledge_latency.py``). Then, in the same process and against the
same server:

1. **baseline**: the intake load for ``--seconds`` seconds, nothing else running;
2. **beside kb add**: the same load; after ``--lead`` seconds ``ushiro kb add`` of the
   document starts in another process (the command line, as an operator would run it), and
   the load goes on until ``--tail`` seconds after it has finished.

For each phase it prints the intake p50/p99/max latency and the **longest stall**: the
longest time in which no request was acknowledged at all (a writer holding the SQLite
lock shows up here). For the second phase it also prints the figures of the requests
acknowledged while `kb add` ran, and how long `kb add` took. Every acknowledged request
must be stored exactly once (checked as in ``intake.py``).

Not a test: it prints figures. See README.md. Runs another checkout's code when started
with ``PYTHONPATH=<checkout>/src`` (the server and `kb add` inherit it).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import random
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake  # noqa: E402 - the server, clients and checks of the intake benchmark
import knowledge_latency  # noqa: E402 - the article templates


def rules_document(path: Path, megabytes: float, seed: int = 7) -> int:
    """Write a 就業規則-like text of about ``megabytes`` MB to ``path``; its article count."""
    pool = knowledge_latency.templates()
    rng = random.Random(seed)
    swaps = {word: rng.choice(group) for group in knowledge_latency.SWAPS for word in group}
    lines, size, article = ["株式会社さくら商事　業務規程集", ""], 0, 0
    while size < megabytes * 1_000_000:
        article += 1
        caption, body = knowledge_latency.body_for(pool, rng, swaps)
        block = ([f"第{article // 10 + 1}章　{caption}", ""] if article % 10 == 1 else [])
        block += [f"（{caption}）", f"第{article}条　{body}", ""]
        size += sum(len(line.encode()) + 1 for line in block)
        lines += block
    path.write_text("\n".join(lines), encoding="utf-8")
    return article


class TimedLoad(intake.Load):
    """The intake load, remembering when each request was acknowledged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acked_at: list[tuple[float, float]] = []  # (acknowledged at, latency)

    def _acknowledge(self, marker: str, answer: dict[str, Any], latency: float,
                     retried_at: float | bool) -> None:
        super()._acknowledge(marker, answer, latency, retried_at)
        self.acked_at.append((time.perf_counter(), latency))


def longest_stall(started: float, ended: float, times: list[float]) -> float:
    """The longest interval in [started, ended] without an acknowledgement."""
    points = [started, *sorted(times), ended]
    return max(b - a for a, b in zip(points, points[1:], strict=False))


def latency_figures(latencies: list[float]) -> dict[str, Any]:
    values = sorted(latencies)
    return {"completed": len(values), "p50_ms": intake.ms(intake.pct(values, 50)),
            "p99_ms": intake.ms(intake.pct(values, 99)),
            "max_ms": intake.ms(values[-1] if values else None)}


def run_phase(server: intake.Server, token: str, args: argparse.Namespace,
              document: Path | None) -> tuple[dict[str, Any], dict[str, int]]:
    load = TimedLoad(server, token, f"stall{secrets.token_hex(4)}", clients=args.clients,
                     count=10**9, duration=args.seconds if document is None else 3600.0,
                     retry=False, client_kind="raw")
    add: dict[str, Any] = {}

    async def kb_add(load: intake.Load) -> None:
        await asyncio.sleep(args.lead)
        cmd = [*intake.ushiro_command(), "kb", "add", str(document), "--json",
               "--data-dir", str(server.data_dir)]
        began = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=server.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        add.update(began=began, ended=time.perf_counter(), returncode=proc.returncode)
        try:
            add["result"] = json.loads(out)["documents"][0]
        except (ValueError, KeyError, IndexError):
            add["result"] = err.decode(errors="replace")[-500:]
        load.duration = time.perf_counter() - load.started + args.tail

    phase = intake.arun(load.run(kb_add if document is not None else None))
    ended = load.started + phase.elapsed
    figures = {**latency_figures(phase.latencies),
               "requests_per_s": phase.figures()["requests_per_s"],
               "elapsed_s": round(phase.elapsed, 2), "errors": dict(phase.errors),
               "longest_stall_ms": intake.ms(longest_stall(
                   load.started, ended, [t for t, _ in load.acked_at]))}
    if add:
        during = [lat for t, lat in load.acked_at if add["began"] <= t <= add["ended"]]
        figures["during_kb_add"] = {
            **latency_figures(during),
            "longest_stall_ms": intake.ms(longest_stall(
                add["began"], add["ended"],
                [t for t, _ in load.acked_at if add["began"] <= t <= add["ended"]]))}
        figures["kb_add"] = {"seconds": round(add["ended"] - add["began"], 2),
                             "returncode": add["returncode"], "result": add["result"]}
    return figures, phase.acked


def run(args: argparse.Namespace, server: intake.Server) -> dict[str, Any]:
    document = server.tmp / "業務規程集.txt"
    articles = rules_document(document, args.mb)
    intake.note(f"document: {document.stat().st_size / 1e6:.1f} MB, {articles} articles")
    token = server.provision()
    server.start()
    warm = intake.Load(server, token, f"warm{secrets.token_hex(4)}", clients=args.clients,
                       count=args.clients * 4, duration=None, retry=False, client_kind="raw")
    intake.arun(warm.run())
    intake.note(f"baseline: {args.clients} clients for {args.seconds:g} s")
    baseline, acked = run_phase(server, token, args, None)
    intake.note(f"beside kb add: kb add after {args.lead:g} s, {args.tail:g} s after it ends")
    beside, acked_beside = run_phase(server, token, args, document)
    server.stop()
    stored = {}
    for name, run_acked in (("baseline", acked), ("beside", acked_beside)):
        marker = next(iter(run_acked), "x-").rsplit("-", 1)[0]
        checked = intake.verify(server, marker, run_acked)
        stored[name] = {k: checked[k] for k in ("acknowledged", "stored", "lost", "duplicated")}
    return {"db": args.db, "clients": args.clients, "document_mb": round(
        document.stat().st_size / 1e6, 2), "articles": articles,
        "python_loop_us": intake.python_speed_us(), "baseline": baseline,
        "beside_kb_add": beside, "checks": stored}


def print_human(result: dict[str, Any]) -> None:
    def line(label: str, f: dict[str, Any]) -> None:
        print(f"{label:<22} p50 {f['p50_ms']} ms   p99 {f['p99_ms']} ms   max {f['max_ms']} ms"
              f"   longest stall {f['longest_stall_ms']} ms   ({f['completed']} requests)")

    print(f"db {result['db']}  clients {result['clients']}  document {result['document_mb']} MB"
          f" ({result['articles']} articles)  python loop {result['python_loop_us']} µs")
    line("baseline", result["baseline"])
    beside = result["beside_kb_add"]
    line("beside kb add (all)", beside)
    line("  while kb add ran", beside["during_kb_add"])
    add = beside["kb_add"]
    outcome = add["result"]
    what = (f"{outcome.get('passages')} passages, {outcome.get('status')}"
            if isinstance(outcome, dict) else outcome)
    print(f"kb add                 {add['seconds']} s, exit {add['returncode']}: {what}")
    for name, checked in result["checks"].items():
        print(f"{name:<22} {checked}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    p.add_argument("--mb", type=float, default=5.0, help="size of the document in MB (5)")
    p.add_argument("--seconds", type=float, default=15.0, help="baseline length (15 s)")
    p.add_argument("--lead", type=float, default=3.0, help="load before kb add starts (3 s)")
    p.add_argument("--tail", type=float, default=2.0, help="load after kb add ends (2 s)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir / schema")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 1000 or not 0 < args.mb <= 19:
        p.error("--clients in 1..1000, --mb in (0, 19]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        server = intake.Server(args.db, 1, args.keep)
    except Exception as exc:  # noqa: BLE001 - e.g. PostgreSQL unreachable
        intake.note(f"setup failed: {exc}")
        return 2
    atexit.register(server.cleanup)
    try:
        result = run(args, server)
    except KeyboardInterrupt:
        return 130
    finally:
        server.cleanup()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_human(result)
    lost = any(c["lost"] or c["duplicated"] for c in result["checks"].values())
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
