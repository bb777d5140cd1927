#!/usr/bin/env python
"""Scale benchmark (issue 14): N tenants on PostgreSQL, the real server, bounded phases.

Creates ``--tenants`` (200) client companies with 300–600 passages each from the real rule
sets we have (``scale_corpus.py``), starts ``ushiro serve --workers 2`` and ``ushiro worker``
as subprocesses, and measures for ``--seconds`` per phase:

* **search**: knowledge search through HTTP on the real server processes, tenants drawn
  uniformly and then by a Zipf law; latency at the client and inside the process, and the
  share of searches that had to build an index;
* **intake**: ``POST /api/v1/requests`` at a fixed rate (8/s) and the delay until the
  request's draft exists (the ``answers.draft_request`` job);
* **restart**: the whole layout stopped with SIGTERM under load (a deploy), jobs left
  ``running`` (stranded for their lease), then the first search of every tenant after the
  start (cold).

RSS/PSS of every process is sampled throughout; garbage-collector pauses and index builds
come from a probe loaded into the server processes (``scale_probe/sitecustomize.py``).

Each figure is printed beside the same run of the baseline: today's code, from a git
worktree of ``--baseline-commit`` (7271ce2) run with its own ``PYTHONPATH``. Not a test: it
prints figures and targets. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
import intake  # noqa: E402 - the server helpers of the intake benchmark
import scale_corpus  # noqa: E402

HOST = intake.HOST
PG_BASE = intake.PG_BASE
PROBE = BENCH / "scale_probe"
# The index builder the probe counts as a build (its other names: loads of a saved index).
PRIMARY = (os.environ.get("USHIRO_SCALE_PROBE_BUILDS", "_build_index").split(",")[0]
           .rpartition(":")[2].rstrip("?"))
BASELINE_COMMIT = "7271ce2"
PHASES = ("setup", "search", "intake", "restart")
TARGETS = {"search_p99_ms": 10.0, "rss_mb": 300.0, "draft_delay_p99_s": 5.0,
           "stranded_jobs": 0, "cold_first_search_ms": 50.0}
# Categories whose requests get a draft (work type 判断 or 案内 in the default taxonomy).
DRAFTED_CATEGORIES = ["経費精算", "旅費・出張", "勤怠・休暇", "給与", "制度・規程の質問",
                      "社会保険"]
note = intake.note


def pct(values: Iterable[float], p: float) -> float | None:
    ordered = sorted(values)
    return intake.pct(ordered, p)


def summary(values: Sequence[float], digits: int = 2) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    r = {f"p{p}": round(pct(values, p) or 0.0, digits) for p in (50, 90, 99)}
    return {"n": len(values), **r, "max": round(max(values), digits),
            "mean": round(sum(values) / len(values), digits)}


# --------------------------------------------------------------------------- processes


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(process group, CPU seconds) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> tuple[float, float | None] | None:
    """(RSS, PSS) in MB: PSS shares mapped pages between the processes that map them."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    rss = next((int(line.split()[1]) / 1024 for line in status.splitlines()
                if line.startswith("VmRSS:")), 0.0)
    pss = None
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


class Stack:
    """One code version's data directory, schema, server and workers."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.data_dir = workdir / "data"
        self.state_path = workdir / "state.json"
        self.state: dict[str, Any] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.port = intake.free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.starts = 0
        self.probe_dir = workdir / "probe"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("USHIRO_DATA_DIR", "USHIRO_DATABASE_URL")}
        self.features: dict[str, bool] = {}

    # -- the database --------------------------------------------------------------
    def create(self) -> None:
        schema = f"scale_{secrets.token_hex(5)}"
        pg_admin(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in PG_BASE else "?"
        self.state = {"schema": schema,
                      "db_url": f"{PG_BASE}{sep}options=-csearch_path%3D{schema}",
                      "tenants": []}
        self.save()

    def load(self) -> None:
        if not self.state_path.exists():
            raise RuntimeError(f"no setup in {self.workdir}: run --phase setup first "
                               "(with --keep --workdir DIR)")
        self.state = json.loads(self.state_path.read_text())

    def save(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(self.state, ensure_ascii=False))

    @property
    def db_url(self) -> str:
        return str(self.state["db_url"])

    def server_env(self) -> dict[str, str]:
        env = dict(self.env, USHIRO_DATA_DIR=str(self.data_dir),
                   USHIRO_DATABASE_URL=self.db_url)
        return env

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        url = PG_BASE.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(url, autocommit=True, connect_timeout=10,
                             options=f"-csearch_path={self.state['schema']}") as conn:
            return list(conn.execute(query.encode(), params).fetchall())

    def cli(self, *args: str, timeout: float = 300) -> str:
        cmd = [*intake.ushiro_command(), *args, "--data-dir", str(self.data_dir)]
        done = subprocess.run(cmd, env=self.server_env(), capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"ushiro {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def detect(self) -> None:
        """Options of the code under test: `serve --no-jobs`, `worker --shard I/N`."""
        env = dict(self.server_env(), COLUMNS="200", TERM="dumb", NO_COLOR="1")
        for command, option in (("serve", "--no-jobs"), ("worker", "--shard"),
                                ("kb warm", "--all")):
            done = subprocess.run([*intake.ushiro_command(), *command.split(), "--help"], env=env,
                                  capture_output=True, text=True, timeout=60)
            self.features[option] = option in done.stdout
        self.state["features"] = self.features

    # -- the server ----------------------------------------------------------------
    def start(self) -> float:
        began = time.perf_counter()
        self.starts += 1
        probe = self.probe_dir / f"start{self.starts}"
        probe.mkdir(parents=True, exist_ok=True)
        env = dict(self.server_env(), USHIRO_SCALE_PROBE_DIR=str(probe))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROBE), os.environ.get("PYTHONPATH", "")) if p)
        a = self.args
        serve = [*intake.ushiro_command(), "serve", "--data-dir", str(self.data_dir),
                 "--host", HOST, "--port", str(self.port), "--workers", str(a.web)]
        if self.features.get("--no-jobs") and not a.web_jobs:
            serve.append("--no-jobs")
        log = (self.workdir / "server.log").open("ab")
        self.server = subprocess.Popen(serve, env=env, stdout=log, stderr=log,
                                       start_new_session=True)
        self.workers = []
        for i in range(a.job_workers):
            cmd = [*intake.ushiro_command(), "worker", "--data-dir", str(self.data_dir)]
            if a.job_workers > 1 and self.features.get("--shard"):
                cmd += ["--shard", f"{i}/{a.job_workers}"]
            self.workers.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log,
                                                 start_new_session=True))
        self._wait_ready()
        return time.perf_counter() - began

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 120
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while time.monotonic() < deadline:
                assert self.server is not None
                if self.server.poll() is not None:
                    raise RuntimeError(f"server exited:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.base_url}/login").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer in time:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            lines = (self.workdir / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-30:])

    def processes(self) -> dict[int, str]:
        """pid → role: web (uvicorn's worker processes, or serve itself with --web 1),
        supervisor (uvicorn's parent with --web > 1), worker."""
        out: dict[int, str] = {}
        if self.server is not None and self.server.poll() is None:
            group = self.server.pid
            for stat in Path("/proc").glob("[0-9]*"):
                found = proc_stat(int(stat.name))
                if found and found[0] == group:
                    out[int(stat.name)] = "web"
            if self.args.web > 1:
                out[group] = "supervisor"
        for w in self.workers:
            if w.poll() is None:
                for stat in Path("/proc").glob("[0-9]*"):
                    found = proc_stat(int(stat.name))
                    if found and found[0] == w.pid:
                        out[int(stat.name)] = "worker"
        return out

    def cpu(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for pid, role in self.processes().items():
            found = proc_stat(pid)
            if found:
                totals[role] += found[1]
        return dict(totals)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> float:
        """Signal the server's group and every worker at once; seconds until all exited."""
        began = time.perf_counter()
        procs = [p for p in [self.server, *self.workers] if p is not None and p.poll() is None]
        for p in procs:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=max(1.0, timeout - (time.perf_counter() - began)))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=15)
        self.server, self.workers = None, []
        return time.perf_counter() - began

    def cleanup(self, keep: bool) -> None:
        self.stop(signal.SIGKILL)
        if keep or not self.state.get("schema"):
            note(f"kept {self.workdir} and schema {self.state.get('schema')}")
            return
        try:
            pg_admin(f'DROP SCHEMA IF EXISTS "{self.state["schema"]}" CASCADE')
        except Exception as exc:  # noqa: BLE001 - cleanup must not mask the result
            note(f"could not drop schema {self.state['schema']}: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.encode())


class Sampler:
    """RSS and PSS of every process of the stack every ``interval`` seconds, in a thread."""

    def __init__(self, stack: Stack, interval: float = 2.0) -> None:
        self.stack, self.interval = stack, interval
        self.samples: list[tuple[float, int, str, float, float | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for pid, role in self.stack.processes().items():
                mem = memory_mb(pid)
                if mem:
                    self.samples.append((now, pid, role, mem[0], mem[1]))
            self._stop.wait(self.interval)

    def figures(self, start: float, end: float) -> dict[str, Any]:
        """Per role: the largest RSS/PSS of one process in the window, and at its end."""
        out: dict[str, Any] = {}
        window = [s for s in self.samples if start <= s[0] <= end]
        last = max((s[0] for s in window), default=None)
        for role in sorted({s[2] for s in window}):
            mine = [s for s in window if s[2] == role]
            out[role] = {"processes": len({s[1] for s in mine}),
                         "rss_max_mb": round(max(s[3] for s in mine), 1),
                         "pss_max_mb": round(max((s[4] or 0) for s in mine), 1),
                         "rss_end_mb": round(max(s[3] for s in mine if s[0] == last), 1)
                         if any(s[0] == last for s in mine) else None}
        return out


def probe_events(stack: Stack, start: float, end: float) -> dict[int, list[list[Any]]]:
    """The probe's events (see scale_probe/sitecustomize.py) in [start, end], by pid."""
    time.sleep(0.7)  # the probe writes twice a second
    out: dict[int, list[list[Any]]] = defaultdict(list)
    for path in stack.probe_dir.rglob("*.jsonl"):
        pid = int(path.stem)
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if start <= event[0] <= end or event[1] in ("start", "app", "missing"):
                out[pid].append(event)
    return out


def gc_and_builds(stack: Stack, start: float, end: float,
                  roles: dict[int, str]) -> dict[str, Any]:
    """Garbage collections and index builds per role, from the probe."""
    events = probe_events(stack, start, end)
    out: dict[str, Any] = {}
    seconds = max(end - start, 1e-9)
    missing = sorted({e[2] for evs in events.values() for e in evs if e[1] == "missing"})
    for role in ("web", "worker"):
        pids = [pid for pid, r in roles.items() if r == role and pid in events]
        gcs = [e for pid in pids for e in events[pid] if e[1] == "gc" and e[0] >= start]
        calls = [e for pid in pids for e in events[pid] if e[1] == "build" and e[0] >= start]
        builds = [e for e in calls if e[2] == PRIMARY]
        loads = [e for e in calls if e[2] != PRIMARY]
        full = [e[3] for e in gcs if e[2] == 2]
        out[role] = {
            "gc_full_n": len(full), "gc_full_max_ms": round(max(full, default=0.0), 1),
            "gc_pause_max_ms": round(max((e[3] for e in gcs), default=0.0), 1),
            "gc_pause_p99_ms": round(pct([e[3] for e in gcs], 99) or 0.0, 2),
            "gc_ms_per_s": round(sum(e[3] for e in gcs) / seconds / max(1, len(pids)), 2),
            "builds": len(builds),
            "build_ms": summary([e[4] for e in builds], 1),
            "loads": len(loads), "load_ms": summary([e[4] for e in loads], 1),
        }
    if missing:
        out["probe_missing"] = missing
    return out


# --------------------------------------------------------------------------- setup


def setup(stack: Stack) -> dict[str, Any]:
    """Schema, `ushiro init`, then the tenants, in ``--setup-procs`` processes."""
    args = stack.args
    stack.create()
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    stack.cli("init")
    stack.detect()
    note(f"[{args.label}] creating {args.tenants} tenants in {args.setup_procs} processes")
    started = time.perf_counter()
    results = ingest_all(stack, args.tenants, args.seed, args.setup_procs)
    seconds = time.perf_counter() - started
    stack.state["tenants"] = sorted(results, key=lambda t: t["index"])
    stack.save()
    passages = [t["passages"] for t in results]
    rows = stack.sql("SELECT (SELECT count(*) FROM kb_passages), (SELECT count(*) FROM "
                     "kb_synonyms), pg_total_relation_size('kb_synonyms'), "
                     "pg_total_relation_size('kb_passages')")[0]
    return {"tenants": len(results), "passages_total": sum(passages),
            "passages_per_tenant": {"min": min(passages), "max": max(passages),
                                    "mean": round(sum(passages) / len(passages))},
            "ingest_s": round(seconds, 1), "setup_s": round(time.perf_counter() - began, 1),
            "per_tenant_s": summary([t["seconds"] for t in results], 2),
            "passages_per_s": round(sum(passages) / seconds),
            "kb_passages_rows": rows[0], "kb_synonyms_rows": rows[1],
            "kb_synonyms_mb": round(rows[2] / 2**20, 1),
            "kb_passages_mb": round(rows[3] / 2**20, 1), "features": stack.features,
            "method": "knowledge.add_document per document, identity service per tenant "
                      f"(no SQL copies), {args.setup_procs} processes"}


def pg_uri() -> str:
    return PG_BASE.replace("postgresql+psycopg", "postgresql")


def dump_setup(stack: Stack, target: Path) -> float:
    """The set-up schema (pg_dump), data directory and state, for another version's run
    to start from the same tenants without ingesting them again."""
    began = time.perf_counter()
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pg_dump", "-d", pg_uri(), "-n", stack.state["schema"], "--no-owner",
                    "--no-privileges", "-f", str(target / "schema.sql")], check=True)
    shutil.copytree(stack.data_dir, target / "data", dirs_exist_ok=True)
    (target / "state.json").write_text(json.dumps(stack.state, ensure_ascii=False))
    return time.perf_counter() - began


def restore_dump(path: Path, old: str, new: str) -> None:
    """psql the dump with the schema renamed, streamed (a dump of 1,000 tenants is GBs)."""
    with tempfile.TemporaryFile() as err:
        psql = subprocess.Popen(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg_uri()],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert psql.stdin is not None
        try:
            with path.open("rb") as dump:
                for line in dump:
                    psql.stdin.write(line.replace(old.encode(), new.encode()))
            psql.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: its message follows
            pass
        if psql.wait() != 0:
            err.seek(0)
            raise RuntimeError(f"restoring the setup failed: {err.read()[-2000:].decode()}")


def setup_from(stack: Stack, source: Path) -> dict[str, Any]:
    """Start from another version's dumped setup: a new schema loaded from the dump, a copy
    of the data directory, then ``ushiro init`` of this version (its migrations run, as in
    an installation that upgrades)."""
    began = time.perf_counter()
    state = json.loads((source / "state.json").read_text())
    old = state["schema"]
    stack.create()
    new = stack.state["schema"]
    pg_admin(f'DROP SCHEMA "{new}"')  # the dump creates it
    restore_dump(source / "schema.sql", old, new)
    shutil.copytree(source / "data", stack.data_dir, dirs_exist_ok=True)
    stack.state["tenants"] = state["tenants"]
    restored = time.perf_counter() - began
    stack.cli("init")
    stack.detect()
    warmed = 0.0
    if stack.features.get("--all"):
        # The documented deploy step (docs/deploy.md): save every tenant's index before
        # traffic, so that no first search builds.
        began_warm = time.perf_counter()
        stack.cli("kb", "warm", "--all", "--json", timeout=3600)
        warmed = time.perf_counter() - began_warm
    stack.save()
    rows = stack.sql("SELECT (SELECT count(*) FROM kb_passages), (SELECT count(*) FROM "
                     "kb_synonyms), pg_total_relation_size('kb_synonyms')")[0]
    passages = [t["passages"] for t in state["tenants"]]
    return {"tenants": len(passages), "passages_total": sum(passages),
            "passages_per_tenant": {"min": min(passages), "max": max(passages),
                                    "mean": round(sum(passages) / len(passages))},
            "restore_s": round(restored, 1),
            "upgrade_s": round(time.perf_counter() - began - restored - warmed, 1),
            "warm_s": round(warmed, 1),
            "kb_passages_rows": rows[0], "kb_synonyms_rows": rows[1],
            "kb_synonyms_mb": round(rows[2] / 2**20, 1), "features": stack.features,
            "method": f"the tenants ingested by the {state.get('label', 'other')} run "
                      "(pg_dump of its schema right after its setup), upgraded by `ushiro "
                      "init` of this code"}


def ingest_all(stack: Stack, tenants: int, seed: int, procs: int) -> list[dict[str, Any]]:
    """Each process takes every procs-th tenant, through the product's services."""
    env = stack.server_env()
    out_dir = stack.workdir / "setup"
    out_dir.mkdir(exist_ok=True)
    children = []
    for i in range(procs):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--ingest-part",
               f"{i}/{procs}", "--tenants", str(tenants), "--seed", str(seed),
               "--out", str(out_dir / f"part{i}.jsonl")]
        children.append(subprocess.Popen(cmd, env=env))
    for child in children:
        if child.wait() != 0:
            raise RuntimeError(f"setup process exited with {child.returncode}")
    results = []
    for path in out_dir.glob("part*.jsonl"):
        results += [json.loads(line) for line in path.read_text().splitlines() if line]
    return results


def ingest_part(part: str, tenants: int, seed: int, out: Path) -> None:
    """A setup process: its share of the tenants, one after another."""
    from ushiro import domains
    from ushiro.core.runtime import Runtime
    from ushiro.core.settings import Settings

    domains.load_hooks()
    rt = Runtime.from_settings(Settings(jobs_inline=False, worker_in_process=False,
                                        db_pool_size=2))
    me, of = (int(x) for x in part.split("/"))
    with out.open("a", encoding="utf-8") as sink:
        for index in range(me, tenants, of):
            done = scale_corpus.create_tenant(rt, scale_corpus.plan(index, seed))
            sink.write(json.dumps(done, ensure_ascii=False) + "\n")
            sink.flush()
            if index % 50 < of:
                note(f"  tenant {index + 1}/{tenants}: {done['passages']} passages in "
                     f"{done['seconds']:.2f} s")
    rt.db.dispose()


# --------------------------------------------------------------------------- search


class TenantMix:
    """Which tenant the next request is for: uniform, or Zipf (rank r weighs 1/r^s) over a
    fixed random order of the tenants."""

    def __init__(self, tenants: list[dict[str, Any]], kind: str, rng: random.Random,
                 s: float = 1.0) -> None:
        self.tenants, self.kind, self.rng = tenants, kind, rng
        order = list(range(len(tenants)))
        random.Random(7).shuffle(order)
        self.order = order
        self.cum: list[float] = []
        total = 0.0
        for rank in range(1, len(tenants) + 1):
            total += 1 / rank ** s
            self.cum.append(total)

    def pick(self) -> dict[str, Any]:
        if self.kind == "uniform":
            return self.rng.choice(self.tenants)
        import bisect

        r = self.rng.random() * self.cum[-1]
        return self.tenants[self.order[bisect.bisect_left(self.cum, r)]]


def questions(tenants: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {name: scale_corpus.questions_for(name) for name in {t["rule_set"] for t in tenants}}


async def search_load(stack: Stack, mix: TenantMix, pool: dict[str, list[str]],
                      seconds: float, clients: int, rng: random.Random) -> list[dict[str, Any]]:
    """Closed loop: ``clients`` connections, one search in flight each, for ``seconds``."""
    results: list[dict[str, Any]] = []
    deadline = time.perf_counter() + seconds

    async def client(conn: intake.RawConnection) -> None:
        while time.perf_counter() < deadline:
            tenant = mix.pick()
            results.append(await one_search(conn, tenant, rng.choice(pool[tenant["rule_set"]])))

    conns = [intake.RawConnection(HOST, stack.port) for _ in range(clients)]
    try:
        await asyncio.gather(*(client(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    return results


async def one_search(conn: intake.RawConnection, tenant: dict[str, Any],
                     question: str) -> dict[str, Any]:
    path = (f"/__scale/search?tenant={tenant['id']}&q="
            + urllib.parse.quote(question[:200]))
    began = time.perf_counter()
    try:
        status, body = await conn.request("GET", path, {})
    except intake.TRANSPORT_ERRORS as exc:
        return {"error": type(exc).__name__, "tenant": tenant["id"]}
    latency = (time.perf_counter() - began) * 1000
    if status != 200:
        return {"error": str(status), "tenant": tenant["id"]}
    answer = json.loads(body)
    loaded = sum(n for name, n in answer.get("calls", {}).items() if name != PRIMARY)
    return {"client_ms": latency, "server_ms": answer["ms"], "built": answer["built"],
            "loaded": loaded, "pid": answer["pid"], "tenant": tenant["id"], "t": began}


def search_figures(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    ok = [r for r in results if "error" not in r]
    built = [r for r in ok if r["built"]]
    cached = [r for r in ok if not r["built"]]
    server_total = sum(r["server_ms"] for r in ok) or 1e-9
    errors: dict[str, int] = defaultdict(int)
    for r in results:
        if "error" in r:
            errors[r["error"]] += 1
    middle = (min(r["t"] for r in ok) + max(r["t"] for r in ok)) / 2 if ok else 0.0
    return {"searches": len(ok), "per_s": round(len(ok) / seconds, 1),
            "client_ms": summary([r["client_ms"] for r in ok]),
            "server_ms": summary([r["server_ms"] for r in ok]),
            # The second half of the window alone: is it steady, or still warming up?
            "server_ms_second_half": summary([r["server_ms"] for r in ok if r["t"] >= middle]),
            "cached_server_ms": summary([r["server_ms"] for r in cached]),
            "rebuild_share": round(len(built) / len(ok), 4) if ok else None,
            "load_share": round(sum(1 for r in ok if r["loaded"]) / len(ok), 4) if ok else None,
            "rebuild_server_ms": summary([r["server_ms"] for r in built], 1),
            "rebuild_time_share": round(sum(r["server_ms"] for r in built) / server_total, 4),
            "tenants_seen": len({r["tenant"] for r in ok}), "errors": dict(errors)}


def search_phase(stack: Stack, sampler: Sampler) -> dict[str, Any]:
    args = stack.args
    tenants = stack.state["tenants"]
    pool = questions(tenants)
    rng = random.Random(args.seed)
    out: dict[str, Any] = {}
    for kind in ("uniform", "zipf"):
        mix = TenantMix(tenants, kind, rng, args.zipf_s)
        note(f"[{args.label}] search, {kind}: {args.warmup:g} s warm-up + {args.seconds:g} s, "
             f"{args.clients} clients")
        intake.arun(search_load(stack, mix, pool, args.warmup, args.clients, rng))
        start, cpu0 = time.time(), stack.cpu()
        results = intake.arun(search_load(stack, mix, pool, args.seconds, args.clients, rng))
        end, cpu1 = time.time(), stack.cpu()
        fig = search_figures(results, end - start)
        fig["server_cpu_ms_per_search"] = round(
            (cpu1.get("web", 0) - cpu0.get("web", 0)) * 1000 / max(1, fig["searches"]), 2)
        fig["memory"] = sampler.figures(start, end)
        fig.update(gc_and_builds(stack, start, end, stack.processes()))
        out[kind] = fig
    return out


# --------------------------------------------------------------------------- intake


def request_text(question: str, i: int) -> tuple[str, str]:
    title = question.split("\n")[0][:60]
    body = (f"お疲れさまです。{question}\nお手数ですが、規程上の扱いを教えてください。\n"
            f"(問い合わせ番号 {i:06d})")
    return title, body


async def intake_load(stack: Stack, rate: float, seconds: float, pool: dict[str, list[str]],
                      rng: random.Random, tag: str) -> list[dict[str, Any]]:
    """Open loop: one POST every 1/rate s whatever the answers take (a connection each,
    reused when free), tenants uniform."""
    tenants = stack.state["tenants"]
    results: list[dict[str, Any]] = []
    free: list[intake.RawConnection] = []
    count = int(rate * seconds)
    began = time.perf_counter()

    async def post(i: int) -> None:
        tenant = rng.choice(tenants)
        title, body = request_text(rng.choice(pool[tenant["rule_set"]]), i)
        payload = json.dumps({"title": title, "body": body,
                              "category": rng.choice(DRAFTED_CATEGORIES)},
                             ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {tenant['token']}",
                   "Content-Type": "application/json", "Idempotency-Key": f"{tag}-{i}"}
        conn = free.pop() if free else intake.RawConnection(HOST, stack.port)
        sent = time.perf_counter()
        try:
            status, answer = await conn.request("POST", "/api/v1/requests", headers, payload)
        except intake.TRANSPORT_ERRORS as exc:
            results.append({"error": type(exc).__name__})
            return
        latency = (time.perf_counter() - sent) * 1000
        free.append(conn)
        if status != 201:
            results.append({"error": str(status)})
            return
        results.append({"ms": latency, "id": json.loads(answer)["id"], "tenant": tenant["id"]})

    tasks = []
    for i in range(count):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(i)))
    await asyncio.gather(*tasks)
    for conn in free:
        conn.close()
    return results


def draft_delays(stack: Stack, ids: list[int], wait: float) -> dict[str, Any]:
    """Seconds from each request's creation to its first draft, waiting up to ``wait`` s
    after the load for the jobs to finish."""
    deadline = time.monotonic() + wait
    query = ("SELECT r.id, EXTRACT(EPOCH FROM (min(d.created_at) - r.created_at)) "
             "FROM requests r LEFT JOIN answer_drafts d ON d.request_id = r.id "
             "WHERE r.id = ANY(%s) GROUP BY r.id")
    waited = time.monotonic()
    while True:
        rows = stack.sql(query, (ids,))
        done = [float(d) for _, d in rows if d is not None]
        if len(done) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    missing = len(ids) - len(done)
    # Undrafted requests count as slower than any drafted one.
    everything = done + [math.inf] * missing
    p99 = pct(everything, 99)
    return {"requests": len(ids), "drafted": len(done), "not_drafted_in_time": missing,
            "drain_wait_s": round(time.monotonic() - waited, 1),
            "delay_s": {**summary(done, 2),
                        "p99_all": None if p99 is None or math.isinf(p99) else round(p99, 2)}}


def intake_phase(stack: Stack, sampler: Sampler) -> dict[str, Any]:
    args = stack.args
    pool = questions(stack.state["tenants"])
    rng = random.Random(args.seed + 1)
    note(f"[{args.label}] intake: {args.rate:g} requests/s for {args.seconds:g} s, then up to "
         f"{args.drain:g} s for the drafts")
    start, cpu0 = time.time(), stack.cpu()
    results = intake.arun(intake_load(stack, args.rate, args.seconds, pool, rng,
                                      f"scale{secrets.token_hex(3)}"))
    load_end = time.time()
    ok = [r for r in results if "error" not in r]
    drafts = draft_delays(stack, [r["id"] for r in ok], args.drain)
    end, cpu1 = time.time(), stack.cpu()
    api = intake.arun(api_drafts(stack, ok, args.api_seconds, rng)) if args.api_seconds else {}
    errors: dict[str, int] = defaultdict(int)
    for r in results:
        if "error" in r:
            errors[r["error"]] += 1
    cpu = {role: round(cpu1.get(role, 0) - cpu0.get(role, 0), 1) for role in cpu1}
    return {"sent": len(results), "acknowledged": len(ok), "errors": dict(errors),
            "rate_per_s": round(len(results) / (load_end - start), 2),
            "intake_ms": summary([r["ms"] for r in ok]), "drafts": drafts,
            "cpu_s": cpu, "cpu_ms_per_request": round(
                sum(cpu.values()) * 1000 / max(1, len(ok)), 1),
            "memory": sampler.figures(start, end), "api_drafts": api,
            **gc_and_builds(stack, start, end, stack.processes())}


async def api_drafts(stack: Stack, requests: list[dict[str, Any]], seconds: float,
                     rng: random.Random) -> dict[str, Any]:
    """The API path that searches on demand: an operator's ``POST /api/v1/requests/{id}/
    drafts`` (search + drafting + the draft's write), one at a time, on the requests of the
    intake load, tenants uniform."""
    tokens = {t["id"]: t.get("operator_token") for t in stack.state["tenants"]}
    if not requests or not all(tokens.values()):
        return {}
    conn = intake.RawConnection(HOST, stack.port)
    latencies: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            r = rng.choice(requests)
            headers = {"Authorization": f"Bearer {tokens[r['tenant']]}"}
            began = time.perf_counter()
            try:
                status, _ = await conn.request("POST", f"/api/v1/requests/{r['id']}/drafts",
                                               headers)
            except intake.TRANSPORT_ERRORS as exc:
                errors[type(exc).__name__] += 1
                continue
            if status == 201:
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                errors[str(status)] += 1
    finally:
        conn.close()
    return {"ms": summary(latencies, 1), "errors": dict(errors)}


# --------------------------------------------------------------------------- restart


def restart_phase(stack: Stack, sampler: Sampler) -> dict[str, Any]:
    """Stop everything with SIGTERM while requests are being drafted, count the jobs left
    claimed, start again and time each tenant's first search."""
    args = stack.args
    tenants = stack.state["tenants"]
    pool = questions(tenants)
    rng = random.Random(args.seed + 2)
    note(f"[{args.label}] restart: {args.restart_load:g} s of intake, SIGTERM, start, "
         "first search per tenant")

    async def load_then_stop() -> float:
        task = asyncio.create_task(intake_load(stack, args.rate, args.restart_load + 30, pool,
                                               rng, f"restart{secrets.token_hex(3)}"))
        await asyncio.sleep(args.restart_load)
        stopped = await asyncio.to_thread(stack.stop)
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, *intake.TRANSPORT_ERRORS):
            pass
        return stopped

    stop_s = intake.arun(load_then_stop())
    rows = stack.sql("SELECT id FROM jobs WHERE status = 'running'")
    stranded = [r[0] for r in rows]
    backlog = stack.sql("SELECT count(*) FROM jobs WHERE status = 'pending'")[0][0]
    start_s = stack.start()
    start = time.time()
    cold = cold_searches(stack, tenants, pool, rng, args.cold_tenants)
    end = time.time()
    still = stack.sql("SELECT count(*) FROM jobs WHERE status = 'running' AND id = ANY(%s)",
                      (stranded,))[0][0] if stranded else 0
    return {"stop_s": round(stop_s, 2), "start_s": round(start_s, 2),
            "stranded_jobs": len(stranded), "pending_at_stop": backlog,
            "stranded_still_running_after_cold_phase": still,
            "cold_first_search": cold, "memory": sampler.figures(start, end),
            **gc_and_builds(stack, start, end, stack.processes())}


def cold_searches(stack: Stack, tenants: list[dict[str, Any]], pool: dict[str, list[str]],
                  rng: random.Random, limit: int) -> dict[str, Any]:
    chosen = list(tenants)
    rng.shuffle(chosen)
    chosen = chosen[:limit] if limit else chosen

    async def run() -> list[dict[str, Any]]:
        conn = intake.RawConnection(HOST, stack.port)
        try:
            return [await one_search(conn, t, rng.choice(pool[t["rule_set"]])) for t in chosen]
        finally:
            conn.close()

    results = intake.arun(run())
    ok = [r for r in results if "error" not in r]
    return {"tenants": len(chosen), "client_ms": summary([r["client_ms"] for r in ok], 1),
            "server_ms": summary([r["server_ms"] for r in ok], 1),
            "built": sum(1 for r in ok if r["built"]),
            "loaded": sum(1 for r in ok if r["loaded"]),
            "errors": len(results) - len(ok)}


# --------------------------------------------------------------------------- one version


def run_version(args: argparse.Namespace) -> dict[str, Any]:
    """Inside the version's own PYTHONPATH: the phases asked for, on its own schema."""
    workdir = Path(args.workdir) / args.label
    stack = Stack(args, workdir)
    phases = args.phase or list(PHASES)
    result: dict[str, Any] = {"label": args.label, "tree": args.tree,
                              "commit": git_commit(Path(args.tree)), "tenants": args.tenants,
                              "cpus": os.cpu_count(), "python_loop_us": intake.python_speed_us(),
                              "load_before": os.getloadavg()[0]}
    keep = args.keep or bool(args.phase)  # a partial run leaves its setup for the next
    try:
        if "setup" in phases and args.setup_from:
            result["setup"] = setup_from(stack, Path(args.setup_from))
        elif "setup" in phases:
            result["setup"] = setup(stack)
            if args.dump_setup:
                stack.state["label"], stack.state["seed"] = args.label, args.seed
                result["setup"]["dump_s"] = round(dump_setup(stack, Path(args.dump_setup)), 1)
        else:
            stack.load()
            stack.features = stack.state.get("features", {})
        result["layout"] = layout(stack)
        measured = [p for p in phases if p != "setup"]
        if measured:
            note(f"[{args.label}] starting the server: {result['layout']}")
            result["start_s"] = round(stack.start(), 2)
            with Sampler(stack) as sampler:
                for phase in measured:
                    result[phase] = PHASE_RUNS[phase](stack, sampler)
        result["load_after"] = os.getloadavg()[0]
    finally:
        stack.cleanup(keep)
    return result


PHASE_RUNS = {"search": search_phase, "intake": intake_phase, "restart": restart_phase}


def layout(stack: Stack) -> str:
    a, f = stack.args, stack.features
    no_jobs = f.get("--no-jobs") and not a.web_jobs
    return (f"serve --workers {a.web}{' --no-jobs' if no_jobs else ' (job threads inside)'}"
            f" + {a.job_workers} × worker"
            + (" --shard" if a.job_workers > 1 and f.get("--shard") else ""))


def git_commit(tree: Path) -> str:
    done = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "src"],
                           capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + ("+dirty" if dirty else "")


# --------------------------------------------------------------------------- both versions


def baseline_tree(path: Path, commit: str) -> Path:
    """A git worktree of the baseline commit (created once, detached)."""
    if not (path / "src" / "ushiro").is_dir():
        note(f"git worktree add {path} {commit}")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path),
                        commit], check=True, capture_output=True)
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    wanted = subprocess.run(["git", "-C", str(ROOT), "rev-parse", commit], capture_output=True,
                            text=True, check=True).stdout.strip()
    if head != wanted:
        raise RuntimeError(f"{path} is at {head[:10]}, not {commit}: remove it or pass "
                           "--baseline-tree")
    return path


def setup_plan(args: argparse.Namespace, workdir: Path) -> tuple[list[str], list[str]]:
    """How the first version run and the next get their tenants: ingested (and dumped for
    the next), or restored from ``--setup-cache`` when it holds a setup of this size."""
    both = not args.baseline_from and not args.only
    if args.phase and "setup" not in args.phase or not args.setup_cache and (
            args.setup_each or not both):
        return [], []
    cache = Path(args.setup_cache) if args.setup_cache else workdir / "shared-setup"
    if (cache / "state.json").exists():
        state = json.loads((cache / "state.json").read_text())
        if len(state["tenants"]) != args.tenants or state.get("seed", args.seed) != args.seed:
            raise RuntimeError(f"{cache} holds {len(state['tenants'])} tenants of seed "
                               f"{state.get('seed')}, not {args.tenants} of {args.seed}")
        note(f"tenants restored from {cache}")
        return ["--setup-from", str(cache)], ["--setup-from", str(cache)]
    return ["--dump-setup", str(cache)], ["--setup-from", str(cache)]


def run_inner(label: str, tree: Path, workdir: Path, argv: list[str],
              extra: Sequence[str] = ()) -> dict[str, Any]:
    out = workdir / f"{label}.json"
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--inner", "--label", label,
           "--tree", str(tree), "--workdir", str(workdir), "--out", str(out), *extra]
    began = time.perf_counter()
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"the {label} run failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(out.read_text())
    result["wall_s"] = round(time.perf_counter() - began, 1)
    return result


def get(result: dict[str, Any] | None, path: str) -> Any:
    value: Any = result
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def worst(result: dict[str, Any] | None, phase: str, role: str, key: str) -> Any:
    """The largest value of a memory figure over the phase's parts (search: both mixes)."""
    parts = [get(result, f"{phase}.{mix}.memory.{role}.{key}") for mix in ("uniform", "zipf")]
    parts.append(get(result, f"{phase}.memory.{role}.{key}"))
    found = [p for p in parts if p is not None]
    return max(found) if found else None


def rows(r: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
    """(figure, target, value) of one run, in print order."""
    out: list[tuple[str, str, Any]] = [
        ("code", "", get(r, "commit")),
        ("layout", "", get(r, "layout")),
        ("python loop µs (machine speed)", "", get(r, "python_loop_us")),
        ("load average before → after", "",
         f"{get(r, 'load_before') or 0:.1f} → {get(r, 'load_after') or 0:.1f}"),
        ("tenants / passages", "", f"{get(r, 'setup.tenants')} / {get(r, 'setup.passages_total')}"
         if get(r, "setup") else None),
        ("passages per tenant min–max", "", f"{get(r, 'setup.passages_per_tenant.min')}–"
         f"{get(r, 'setup.passages_per_tenant.max')}" if get(r, "setup") else None),
        ("setup: ingest s (passages/s)", "", f"{get(r, 'setup.ingest_s')} "
         f"({get(r, 'setup.passages_per_s')})" if get(r, "setup.ingest_s") else None),
        ("setup: restored s / upgraded s", "", pair(get(r, "setup.restore_s"),
                                                    get(r, "setup.upgrade_s"))
         if get(r, "setup.restore_s") is not None else None),
        ("setup: kb warm --all s", "", get(r, "setup.warm_s")),
        ("kb_synonyms rows / MB", "", f"{get(r, 'setup.kb_synonyms_rows')} / "
         f"{get(r, 'setup.kb_synonyms_mb')}" if get(r, "setup") else None),
    ]
    for mix in ("uniform", "zipf"):
        s = f"search.{mix}"
        out += [
            (f"search {mix}: searches/s", "", get(r, f"{s}.per_s")),
            (f"search {mix}: server p50 / p99 ms", "p99 ≤ 10",
             pair(get(r, f"{s}.server_ms.p50"), get(r, f"{s}.server_ms.p99"))),
            (f"search {mix}: server p99 ms, 2nd half", "",
             get(r, f"{s}.server_ms_second_half.p99")),
            (f"search {mix}: client p50 / p99 ms", "",
             pair(get(r, f"{s}.client_ms.p50"), get(r, f"{s}.client_ms.p99"))),
            (f"search {mix}: cached index p99 ms", "", get(r, f"{s}.cached_server_ms.p99")),
            (f"search {mix}: rebuild share", "", percent(get(r, f"{s}.rebuild_share"))),
            (f"search {mix}: build p50 ms", "", get(r, f"{s}.rebuild_server_ms.p50")),
            (f"search {mix}: share that loaded a saved index", "",
             percent(get(r, f"{s}.load_share")) if get(r, f"{s}.load_share") else None),
            (f"search {mix}: share of time rebuilding", "",
             percent(get(r, f"{s}.rebuild_time_share"))),
            (f"search {mix}: web CPU ms/search", "", get(r, f"{s}.server_cpu_ms_per_search")),
            (f"search {mix}: full GC n / max ms", "",
             pair(get(r, f"{s}.web.gc_full_n"), get(r, f"{s}.web.gc_full_max_ms"))),
        ]
    out += [
        ("search: RSS max per web process MB", "≤ 300", worst(r, "search", "web", "rss_max_mb")),
        ("search: PSS max per web process MB", "", worst(r, "search", "web", "pss_max_mb")),
        ("intake: sent / acknowledged", "",
         pair(get(r, "intake.sent"), get(r, "intake.acknowledged"))),
        ("intake: rate /s", "8", get(r, "intake.rate_per_s")),
        ("intake: p50 / p99 ms", "", pair(get(r, "intake.intake_ms.p50"),
                                           get(r, "intake.intake_ms.p99"))),
        ("draft delay p50 / p99 s", "p99 ≤ 5", pair(get(r, "intake.drafts.delay_s.p50"),
                                                    get(r, "intake.drafts.delay_s.p99_all")
                                                    or (get(r, "intake.drafts.delay_s.p99")
                                                        if get(r, "intake.drafts.not_drafted_in_time") == 0
                                                        else "∞")) if get(r, "intake") else None),
        ("API draft on demand p50 / p99 ms", "", pair(get(r, "intake.api_drafts.ms.p50"),
                                                       get(r, "intake.api_drafts.ms.p99"))),
        ("drafts not done after the drain wait", "0",
         get(r, "intake.drafts.not_drafted_in_time")),
        ("intake: CPU ms per request + draft", "", get(r, "intake.cpu_ms_per_request")),
        ("intake: index builds web / worker", "",
         pair(get(r, "intake.web.builds"), get(r, "intake.worker.builds"))),
        ("intake: index loads web / worker", "",
         pair(get(r, "intake.web.loads"), get(r, "intake.worker.loads"))
         if get(r, "intake.web.loads") or get(r, "intake.worker.loads") else None),
        ("intake: RSS max web / worker MB", "≤ 300",
         pair(worst(r, "intake", "web", "rss_max_mb"), worst(r, "intake", "worker", "rss_max_mb"))),
        ("intake: full GC max ms web / worker", "",
         pair(get(r, "intake.web.gc_full_max_ms"), get(r, "intake.worker.gc_full_max_ms"))),
        ("restart: stranded jobs", "0", get(r, "restart.stranded_jobs")),
        ("restart: still stranded after cold phase", "0",
         get(r, "restart.stranded_still_running_after_cold_phase")),
        ("restart: stop s / start s", "", pair(get(r, "restart.stop_s"), get(r, "restart.start_s"))),
        ("cold first search server p50 / p99 / max ms", "≤ 50",
         "/".join(str(get(r, f"restart.cold_first_search.server_ms.{k}")) for k in
                  ("p50", "p99", "max")) if get(r, "restart") else None),
        ("cold first search client p99 ms", "",
         get(r, "restart.cold_first_search.client_ms.p99")),
        ("cold first searches that built / loaded / of", "",
         "/".join(str(get(r, f"restart.cold_first_search.{k}")) for k in
                  ("built", "loaded", "tenants")) if get(r, "restart") else None),
        ("restart: RSS max web MB after the cold phase", "",
         get(r, "restart.memory.web.rss_max_mb")),
        ("wall time of the run s", "", get(r, "wall_s")),
    ]
    return out


def checks(r: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(target, the run's figure, met) for issue 14's targets."""
    out: list[tuple[str, Any, bool]] = []
    for mix in ("uniform", "zipf"):
        v = get(r, f"search.{mix}.server_ms.p99")
        out.append((f"search {mix} p99 ≤ 10 ms:", v, v is not None and v <= 10))
    rss = [x for x in (worst(r, "search", "web", "rss_max_mb"),
                       worst(r, "intake", "web", "rss_max_mb"),
                       worst(r, "intake", "worker", "rss_max_mb")) if x is not None]
    out.append(("RSS ≤ 300 MB per process:", max(rss) if rss else None,
                bool(rss) and max(rss) <= 300))
    d = get(r, "intake.drafts")
    p99 = None if d is None else (get(d, "delay_s.p99_all") if not d["not_drafted_in_time"]
                                  else "∞")
    out.append(("draft delay p99 ≤ 5 s:", p99, isinstance(p99, float | int) and p99 <= 5))
    v = get(r, "restart.stranded_jobs")
    out.append(("stranded jobs = 0:", v, v == 0))
    v = get(r, "restart.cold_first_search.server_ms.p99")
    out.append(("cold first search p99 ≤ 50 ms:", v, v is not None and v <= 50))
    return out


def pair(a: Any, b: Any) -> str | None:
    return None if a is None and b is None else f"{a} / {b}"


def percent(x: Any) -> str | None:
    return None if x is None else f"{x * 100:.1f} %"


def print_table(results: dict[str, dict[str, Any]]) -> None:
    labels = list(results)
    table = {label: rows(results[label]) for label in labels}
    names = [(name, target) for name, target, _ in table[labels[0]]]
    width = max(len(n) for n, _ in names) + 2
    cols = {label: max(len(label), *(len(str(v)) for _, _, v in table[label])) + 2
            for label in labels}
    print(f"{'figure':<{width}}{'target':<10}" + "".join(f"{la:<{cols[la]}}" for la in labels))
    for i, (name, target) in enumerate(names):
        values = [table[label][i][2] for label in labels]
        if all(v is None for v in values):
            continue
        print(f"{name:<{width}}{target:<10}" + "".join(
            f"{'–' if v is None else v!s:<{cols[la]}}" for la, v in zip(labels, values,
                                                                         strict=True)))
    for label in labels:
        print(f"\ntargets, {label}: " + "; ".join(
            f"{name} {value} {'ok' if ok else 'MISSED'}" if value is not None else f"{name} –"
            for name, value, ok in checks(results[label])))
        missing = sorted({m for phase in ("search.uniform", "search.zipf", "intake", "restart")
                          for m in get(results[label], f"{phase}.probe_missing") or []})
        if missing:
            print(f"  probe: no such function {missing}: index builds were not counted "
                  "(set USHIRO_SCALE_PROBE_BUILDS, see bench/README.md)")
    print("\nserver ms: inside the web process (knowledge.search, index build included); client "
          "ms: the HTTP round trip on loopback. Targets are issue 14's, at 2 cores.")


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tenants", type=int, default=200)
    p.add_argument("--seconds", type=float, default=40.0,
                   help="measured seconds of each search mix and of the intake load (40)")
    p.add_argument("--warmup", type=float, default=10.0,
                   help="uncounted seconds before each search mix (10)")
    p.add_argument("--phase", action="append", choices=PHASES,
                   help="run only these phases (repeatable); without setup, --workdir must "
                        "hold a kept setup")
    p.add_argument("--only", choices=("baseline", "current"),
                   help="run one version only")
    p.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    p.add_argument("--baseline-tree", type=Path, default=Path("/tmp/scale-baseline"))
    p.add_argument("--baseline-from", type=Path,
                   help="print beside this saved baseline run (--save) instead of running it")
    p.add_argument("--save", type=Path, help="write every run's figures as JSON here")
    p.add_argument("--workdir", default=None,
                   help="where each version keeps its data directory and state")
    p.add_argument("--keep", action="store_true", help="keep the schemas and data directories")
    p.add_argument("--web", type=int, default=2, help="serve --workers (2)")
    p.add_argument("--job-workers", type=int, default=1,
                   help="`ushiro worker` processes (1; sharded when the code supports it)")
    p.add_argument("--web-jobs", action="store_true",
                   help="keep job threads inside the web processes even where --no-jobs exists")
    p.add_argument("--clients", type=int, default=4, help="concurrent search clients (4)")
    p.add_argument("--zipf-s", type=float, default=1.0, help="Zipf exponent of the skewed mix")
    p.add_argument("--rate", type=float, default=8.0, help="intake requests per second (8)")
    p.add_argument("--drain", type=float, default=60.0,
                   help="seconds to wait for the drafts after the intake load (60)")
    p.add_argument("--api-seconds", type=float, default=15.0,
                   help="seconds of POST /api/v1/requests/{id}/drafts after the intake (15)")
    p.add_argument("--restart-load", type=float, default=10.0,
                   help="seconds of intake before the SIGTERM (10)")
    p.add_argument("--cold-tenants", type=int, default=200,
                   help="tenants whose first search is timed after the restart (200; 0 = all)")
    p.add_argument("--setup-procs", type=int, default=2, help="processes creating tenants (2)")
    p.add_argument("--setup-each", action="store_true",
                   help="ingest the tenants for each version instead of once (with the "
                        "baseline's code) and upgrading a copy for the current code")
    p.add_argument("--setup-cache", help="keep the ingested tenants (pg_dump + data "
                   "directory) here, and restore them from here in later runs of the same "
                   "--tenants and --seed")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    # internal: one version inside its own PYTHONPATH, or a setup process
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--label", default="current", help=argparse.SUPPRESS)
    p.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--ingest-part", help=argparse.SUPPRESS)
    p.add_argument("--dump-setup", help=argparse.SUPPRESS)
    p.add_argument("--setup-from", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not 1 <= args.tenants <= 20_000 or args.seconds <= 0 or args.web < 1:
        p.error("--tenants in 1..20000, --seconds > 0, --web ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.ingest_part:
        ingest_part(args.ingest_part, args.tenants, args.seed, args.out)
        return 0
    if args.inner:
        result = run_version(args)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ushiro-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    try:
        if args.baseline_from:
            results["baseline"] = json.loads(args.baseline_from.read_text())["baseline"]
        first, then = setup_plan(args, workdir)
        if not args.baseline_from and args.only != "current":
            tree = baseline_tree(args.baseline_tree, args.baseline_commit)
            results["baseline"] = run_inner("baseline", tree, workdir, raw, first)
        if args.only != "baseline":
            results["current"] = run_inner("current", ROOT, workdir, raw,
                                           then if "baseline" in results and not
                                           args.baseline_from else first)
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - a broken run prints why
        note(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 2
    finally:
        if args.phase or args.keep:
            note(f"kept {workdir} (pass --workdir {workdir} to run other phases on it)")
        elif not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.save:
        args.save.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
