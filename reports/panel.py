"""The lab panel: every bench's current run, live, and every run's report, in the browser.

    python -m reports serve [--store URL] [--host 127.0.0.1] [--port 8750] [--token TOKEN]

Pages (all GET: the panel is read-only, it never drives a bench):
  /                      benches and their current runs, updated live; the latest runs
  /events                the same as server-sent events (text/event-stream, one JSON a change)
  /runs?bench=&serial=&type=&verdict=&since=&until=   every run, filtered
  /runs/<run id>/report.html                           the run's report (reports.html)
  /meters/<serial>       a meter's history across runs, error curves overlaid

Framework: Starlette served by uvicorn: a small, maintained ASGI toolkit whose streaming
responses give server-sent events without a websocket layer or a template engine, and whose
synchronous endpoints run in a thread pool, so the store's blocking reads stay as they are.

Live updates: one thread polls the store on one connection (`poll_s`, 0.2 s) for a change of
its largest measurement and event ids and its number of runs and running runs; on a change a
new snapshot is sent, so a commit shows in the browser within about poll_s plus the reading and
rendering (benchmarks/bench_store.py measures it). Polling works the same on both backends
and needs no trigger in the database.

On 127.0.0.1 no login is needed; bound to any other address the panel refuses to start without
a token (--token or METER_TEST_RIG_PANEL_TOKEN), and then every request must carry it (?token=
once, kept in a cookie, or an `Authorization: Bearer` header).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.backends import redacted
from reports.store import ResultsStore, RunNotFoundError, StoreError

TOKEN_ENV = "METER_TEST_RIG_PANEL_TOKEN"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
COOKIE = "panel_token"
RECENT_RUNS = 20


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def utc(t: float | None) -> str:
    if t is None:
        return ""
    return dt.datetime.fromtimestamp(float(t), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- what the pages show, read from the store ---------------------------------------------------

def signature(store: ResultsStore) -> tuple:
    """Changes whenever a measurement or event is committed or a run starts or ends."""
    (row,) = store.query(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM measurement),"
        " (SELECT COALESCE(MAX(id), 0) FROM event), (SELECT COUNT(*) FROM run),"
        " (SELECT COUNT(*) FROM run WHERE status = 'running')")
    return tuple(int(v) for v in row)


def _bench_name(lab: str, bench_path: str) -> str:
    name = Path(bench_path).name if bench_path else ""
    return f"{lab} ({name})" if name else lab


def _verdict(status: str, fails: int, errors: int, count: int) -> str:
    if fails:
        return "fail"
    if errors:
        return "error"
    if status == "completed" and count:
        return "pass"
    return status


@dataclass
class RunRow:
    run_id: str
    bench: str
    plan: str
    status: str
    started_at: float
    ended_at: float | None
    serials: list[str]
    types: list[str]
    verdict: str
    measurements: int

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "bench": self.bench, "plan": self.plan,
                "status": self.status, "started": utc(self.started_at),
                "ended": utc(self.ended_at), "serials": self.serials, "types": self.types,
                "verdict": self.verdict, "measurements": self.measurements}


def run_rows(store: ResultsStore, limit: int | None = None) -> list[RunRow]:
    """Every run (newest first) with its meters and its overall verdict."""
    sql = ("SELECT run_id, lab, bench_path, plan_name, plan_version, status, started_at,"
           " ended_at FROM run ORDER BY started_at DESC, run_id DESC")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    runs = store.query(sql)
    ids = [r["run_id"] for r in runs]
    counts: dict[str, tuple[int, int, int]] = {}
    meters: dict[str, list[tuple[str, str]]] = {}
    if ids:
        marks = ", ".join("?" for _ in ids)
        for r in store.query(
            "SELECT run_id, SUM(CASE WHEN verdict = 'fail' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN verdict = 'error' THEN 1 ELSE 0 END), COUNT(*) FROM measurement"
            f" WHERE run_id IN ({marks}) GROUP BY run_id", tuple(ids)):
            counts[r[0]] = (int(r[1]), int(r[2]), int(r[3]))
        for r in store.query(f"SELECT run_id, serial, meter_type FROM position WHERE run_id IN"
                             f" ({marks}) ORDER BY position", tuple(ids)):
            meters.setdefault(r[0], []).append((r[1], r[2]))
    out = []
    for r in runs:
        fails, errors, count = counts.get(r["run_id"], (0, 0, 0))
        pos = meters.get(r["run_id"], [])
        out.append(RunRow(
            run_id=r["run_id"], bench=_bench_name(r["lab"], r["bench_path"]),
            plan=f"{r['plan_name']} {r['plan_version']}", status=r["status"],
            started_at=float(r["started_at"]), ended_at=r["ended_at"],
            serials=[s for s, _ in pos if s], types=sorted({t for _, t in pos if t}),
            verdict=_verdict(r["status"], fails, errors, count), measurements=count))
    return out


@dataclass(frozen=True)
class Filters:
    bench: str = ""
    serial: str = ""
    type: str = ""
    verdict: str = ""
    since: str = ""  # YYYY-MM-DD, UTC, inclusive
    until: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Filters:
        return cls(**{k: params.get(k, "").strip() for k in cls.__dataclass_fields__})

    def keep(self, run: RunRow) -> bool:
        day = utc(run.started_at)[:10]
        return (
            self.bench.lower() in run.bench.lower()
            and (not self.serial or any(self.serial in s for s in run.serials))
            and (not self.type or any(self.type.lower() in t.lower() for t in run.types))
            and (not self.verdict or run.verdict == self.verdict)
            and (not self.since or day >= self.since)
            and (not self.until or day <= self.until)
        )


def live_runs(store: ResultsStore) -> list[dict[str, Any]]:
    """The runs in progress: plan item, load point, positions' state, progress, errors."""
    out = []
    for run in store.query("SELECT run_id, lab, bench_path, plan_name, started_at FROM run"
                           " WHERE status = 'running' ORDER BY started_at"):
        rid = run["run_id"]
        progress = store.query(
            "SELECT data, t FROM event WHERE run_id = ? AND kind = 'progress'"
            " ORDER BY id DESC LIMIT 1", (rid,))
        data = json.loads(progress[0]["data"]) if progress else {}
        positions = {
            int(r["position"]): {"serial": r["serial"], "measured": 0, "failed": 0,
                                 "last": ""}
            for r in store.query("SELECT position, serial FROM position WHERE run_id = ?",
                                 (rid,))
        }
        for r in store.query(
            "SELECT position, COUNT(*), SUM(CASE WHEN verdict != 'pass' THEN 1 ELSE 0 END)"
            " FROM measurement WHERE run_id = ? GROUP BY position", (rid,)):
            p = positions.setdefault(int(r[0]), {"serial": "", "measured": 0, "failed": 0,
                                                 "last": ""})
            p["measured"], p["failed"] = int(r[1]), int(r[2])
        last = store.query("SELECT test_id, point, verdict, recorded_at FROM measurement"
                           " WHERE run_id = ? ORDER BY id DESC LIMIT 1", (rid,))
        errors = [
            {"t": utc(r["t"]), "message": r["message"]}
            for r in store.query(
                "SELECT t, message FROM event WHERE run_id = ? AND level IN ('warning',"
                " 'error') ORDER BY id DESC LIMIT 3", (rid,))
        ]
        errors += [
            {"t": utc(r["recorded_at"]), "message": f"{r['test_id']} position {r['position']}: "
             f"{r['verdict']} {r['message']}".strip()}
            for r in store.query(
                "SELECT test_id, position, verdict, message, recorded_at FROM measurement"
                " WHERE run_id = ? AND verdict != 'pass' ORDER BY id DESC LIMIT 3", (rid,))
        ]
        count, index = int(data.get("count", 0)), int(data.get("index", 0))
        total, left = float(data.get("run_total_s", 0.0)), float(data.get("run_left_s", 0.0))
        out.append({
            "run_id": rid, "bench": _bench_name(run["lab"], run["bench_path"]),
            "plan": run["plan_name"], "started": utc(run["started_at"]),
            "item": data.get("item", ""), "index": index, "count": count,
            "fraction": 1.0 - left / total if total > 0 else 0.0, "left_s": left,
            "load": data.get("load", ""),
            "last_point": json.loads(last[0]["point"]) if last else {},
            "last_test": last[0]["test_id"] if last else "",
            "positions": [{"position": n, **v} for n, v in sorted(positions.items())],
            "errors": errors[:5],
            "last_error": data.get("last_error", ""),
        })
    return out


def snapshot(store: ResultsStore) -> dict[str, Any]:
    return {"live": live_runs(store),
            "recent": [r.as_json() for r in run_rows(store, RECENT_RUNS)],
            "at": time.time()}


def meter_history(store: ResultsStore, serial: str) -> list[dict[str, Any]]:
    """The accuracy points of one meter in every run it was tested in, oldest run first."""
    rows = store.query(
        "SELECT m.run_id, r.started_at, m.point, m.value, m.verdict, m.test_id"
        " FROM measurement m JOIN position p ON p.run_id = m.run_id AND p.position = m.position"
        " JOIN run r ON r.run_id = m.run_id WHERE p.serial = ? AND m.family = 'accuracy'"
        " ORDER BY r.started_at, m.id", (serial,))
    return [{"run_id": r[0], "started_at": float(r[1]), "point": json.loads(r[2]),
             "value": r[3], "verdict": r[4], "test_id": r[5]} for r in rows]


# --- pages --------------------------------------------------------------------------------------

STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:1.2em;color:#222}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #bbb;padding:2px 6px;
text-align:left;font-size:90%}.pass{color:#176f2c}.fail,.error{color:#b00020;font-weight:bold}
.run{border:1px solid #888;border-radius:4px;padding:.5em;margin:.5em 0}
.bar{display:inline-block;width:12em;height:.8em;background:#ddd;vertical-align:middle}
.bar span{display:block;height:100%;background:#3b7dd8}nav a{margin-right:1em}
"""


def page(title: str, body: str, script: str = "") -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}"
            f"</title><style>{STYLE}</style></head><body><nav><a href='/'>Lab panel</a>"
            f"<a href='/runs'>All runs</a></nav><h1>{e(title)}</h1>{body}"
            + (f"<script>{script}</script>" if script else "") + "</body></html>")


LIVE_SCRIPT = """
window.panelLoadedAt = Date.now();
function esc(s){return String(s ?? '').replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;',
  '>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));}
function hms(s){s=Math.max(0,Math.round(s));if(s>=3600)return Math.floor(s/3600)+' h '+
  String(Math.floor(s%3600/60)).padStart(2,'0')+' min';if(s>=60)return Math.floor(s/60)+
  ' min '+String(s%60).padStart(2,'0')+' s';return s+' s';}
function liveRun(r){
  const pos=r.positions.map(p=>`<td class="${p.failed?'fail':'pass'}">${p.position}`+
    `${p.serial?' ('+esc(p.serial)+')':''}: ${p.measured} measured, ${p.failed} not passed`+
    `</td>`).join('');
  const errs=r.errors.map(x=>`<li>${esc(x.t)} ${esc(x.message)}</li>`).join('');
  return `<div class="run" data-run="${esc(r.run_id)}"><b>${esc(r.bench)}</b>: run `+
    `<code>${esc(r.run_id)}</code>, plan ${esc(r.plan)}, since ${esc(r.started)} UTC<br>`+
    `item <span class="item">${esc(r.item)}</span> `+
    `<span class="progress">${r.index}/${r.count} items, ${Math.round(r.fraction*100)} %, `+
    `${hms(r.left_s)} left</span> <span class="bar"><span style="width:`+
    `${Math.round(r.fraction*100)}%"></span></span><br>load point `+
    `<span class="load">${esc(r.load)}</span>; last point ${esc(r.last_test)}`+
    `<table class="positions"><tr>${pos}</tr></table>`+
    (errs?`<ul class="errors">${errs}</ul>`:'')+`</div>`;}
function recentRow(r){
  return `<tr data-run="${esc(r.run_id)}"><td><code>${esc(r.run_id)}</code></td>`+
    `<td>${esc(r.bench)}</td><td>${esc(r.plan)}</td><td>${esc(r.serials.join(', '))}</td>`+
    `<td>${esc(r.status)}</td><td class="${esc(r.verdict)}">${esc(r.verdict)}</td>`+
    `<td>${esc(r.started)}</td><td><a class="report" `+
    `href="/runs/${encodeURIComponent(r.run_id)}/report.html">report</a></td></tr>`;}
function show(s){
  document.getElementById('live').innerHTML = s.live.length ? s.live.map(liveRun).join('')
    : '<p>No run in progress.</p>';
  document.getElementById('recent-body').innerHTML = s.recent.map(recentRow).join('');
  document.getElementById('updated').textContent = new Date(s.at*1000).toISOString();
  window.panelUpdates = (window.panelUpdates || 0) + 1;
  window.panelUpdatedAt = Date.now();}
const source = new EventSource('/events');
source.onmessage = ev => show(JSON.parse(ev.data));
"""


def home_page(location: str) -> str:
    body = (f"<p>Store <code>{e(location)}</code>; updated <span id='updated'>(connecting)"
            "</span> UTC.</p><h2>Benches: runs in progress</h2><div id='live'></div>"
            "<h2>Latest runs</h2><table id='recent'><thead><tr><th>run</th><th>bench</th>"
            "<th>plan</th><th>meters</th><th>status</th><th>verdict</th><th>started (UTC)"
            "</th><th></th></tr></thead><tbody id='recent-body'></tbody></table>")
    return page("Lab panel", body, LIVE_SCRIPT)


def runs_page(rows: list[RunRow], f: Filters) -> str:
    def field(name: str, label: str, kind: str = "text") -> str:
        return (f"<label>{label} <input name='{name}' type='{kind}' "
                f"value='{e(getattr(f, name))}'></label> ")

    form = ("<form method='get' action='/runs'>" + field("bench", "bench")
            + field("serial", "serial") + field("type", "type")
            + "<label>verdict <select name='verdict'>" + "".join(
                f"<option{' selected' if f.verdict == v else ''}>{v}</option>"
                for v in ("", "pass", "fail", "error", "running", "aborted", "failed"))
            + "</select></label> " + field("since", "from", "date")
            + field("until", "to", "date") + "<button>Filter</button></form>")
    kept = [r for r in rows if f.keep(r)]
    body = "".join(
        f"<tr data-run='{e(r.run_id)}'><td><code>{e(r.run_id)}</code></td><td>{e(r.bench)}</td>"
        f"<td>{e(r.plan)}</td><td>"
        + ", ".join(f"<a href='/meters/{e(s)}'>{e(s)}</a>" for s in r.serials)
        + f"</td><td>{e(', '.join(r.types))}</td><td>{e(r.status)}</td>"
        f"<td class='{e(r.verdict)}'>{e(r.verdict)}</td><td>{e(utc(r.started_at))}</td>"
        f"<td><a class='report' href='/runs/{e(r.run_id)}/report.html'>report</a></td></tr>"
        for r in kept)
    table = ("<table id='runs'><thead><tr><th>run</th><th>bench</th><th>plan</th><th>meters"
             "</th><th>type</th><th>status</th><th>verdict</th><th>started (UTC)</th><th></th>"
             f"</tr></thead><tbody>{body}</tbody></table>")
    return page("All runs", form + f"<p>{len(kept)} of {len(rows)} run(s)</p>" + table)


def meter_page(serial: str, history: list[dict[str, Any]]) -> str:
    from reports.svgplot import Axes, Figure, Line, render

    if not history:
        return page(f"Meter {serial}", "<p>No accuracy measurement of this meter is stored.</p>")
    fig = Figure(width=520, axes_height=220, title=f"Meter {serial}: error curves by run",
                 id_prefix="h" + secrets.token_hex(4))
    ax = fig.add(Axes(xscale="log", title="", xlabel="load (current / In)", ylabel="error / %"))
    series: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for h in history:
        p = h["point"]
        load = p.get("load")
        if load is None or h["value"] is None:
            continue
        label = (h["run_id"], str(p.get("pf", "")), str(p.get("direction", "")))
        series.setdefault(label, []).append((float(load), float(h["value"])))
    for (run_id, pf, direction), pts in series.items():
        pts.sort()
        ax.add(Line([x for x, _ in pts], [y for _, y in pts], marker="o",
                    label=f"{run_id} PF {pf} {direction}".strip()))
    rows = "".join(
        f"<tr><td><code>{e(h['run_id'])}</code></td><td>{e(h['test_id'])}</td>"
        f"<td>{e(h['value'])}</td><td class='{e(h['verdict'])}'>{e(h['verdict'])}</td></tr>"
        for h in history)
    return page(f"Meter {serial}", render(fig) + "<table id='history'><tr><th>run</th><th>test"
                "</th><th>error / %</th><th>verdict</th></tr>" + rows + "</table>")


# --- the application -------------------------------------------------------------------------

class Panel:
    """The panel over one store (a SQLite file or a PostgreSQL URL)."""

    def __init__(self, location: str | Path, poll_s: float = 0.2) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.location = location
        self.poll_s = poll_s
        # One thread and one store connection poll for every open page.
        self._poller = ThreadPoolExecutor(max_workers=1, thread_name_prefix="panel-poll")
        self._poll_store: ResultsStore | None = None
        self.shown = redacted(location) if isinstance(location, str) else str(location)

    def open(self) -> ResultsStore:
        return ResultsStore(self.location, create=False)

    def read(self, fn: Any, *args: Any) -> Any:
        with self.open() as store:
            return fn(store, *args)

    def _polled(self, fn: Any) -> Any:
        """`fn(store)` on the poller's own connection, opened once in the poller's thread (a
        SQLite connection stays in the thread that made it): each poll is one query, not a
        new connection."""
        if self._poll_store is None or self._poll_store.closed:
            self._poll_store = self.open()
        try:
            return fn(self._poll_store)
        except Exception:
            self._poll_store.close()  # a dropped connection is made anew at the next poll
            raise

    async def events(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        last: tuple | None = None
        while True:
            sig = await loop.run_in_executor(self._poller, self._polled, signature)
            if sig != last:
                data = await loop.run_in_executor(self._poller, self._polled, snapshot)
                last = sig
                yield f"data: {json.dumps(data, allow_nan=False, default=str)}\n\n"
            await asyncio.sleep(self.poll_s)

    def app(self, token: str | None = None) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, StreamingResponse
        from starlette.routing import Route

        def home(request: Request) -> HTMLResponse:
            return HTMLResponse(home_page(self.shown))

        def events(request: Request) -> StreamingResponse:
            return StreamingResponse(self.events(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store"})

        def runs(request: Request) -> HTMLResponse:
            return HTMLResponse(runs_page(self.read(run_rows), Filters.of(request.query_params)))

        def report(request: Request) -> HTMLResponse:
            from reports.analysis import analyse
            from reports.benchinfo import bench_info
            from reports.build import load_for_report
            from reports.page import (
                PageInputs,
                TemplateFolderError,
                lab_template_folder,
                render_page,
            )

            run_id = request.path_params["run_id"]
            try:
                data = load_for_report(run_id, store=self.location)
            except RunNotFoundError as exc:
                return HTMLResponse(page("No such run", f"<p>{e(exc)}</p>"), status_code=404)
            # The same page as the run's report.html, with the lab's templates where the bench
            # names them and they are reachable from here.
            try:
                inputs = PageInputs(lab_templates=lab_template_folder(bench_info(data),
                                                                      data.run.bench_path))
            except TemplateFolderError:
                inputs = PageInputs()
            return HTMLResponse(render_page(analyse(data), inputs)[0])

        def meter(request: Request) -> HTMLResponse:
            serial = request.path_params["serial"]
            return HTMLResponse(meter_page(serial, self.read(meter_history, serial)))

        app = Starlette(routes=[
            Route("/", home), Route("/events", events), Route("/runs", runs),
            Route("/runs/{run_id}/report.html", report), Route("/meters/{serial}", meter),
        ])
        return TokenGate(app, token) if token else app


class TokenGate:
    """ASGI middleware: every request carries the lab's token (query, cookie or header)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        in_query = request.query_params.get("token", "")
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = in_query or request.cookies.get(COOKIE, "") or bearer
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            await PlainTextResponse("the lab panel needs its token (?token=...)",
                                    status_code=401)(scope, receive, send)
            return
        if not in_query:
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                message["headers"] = [*message.get("headers", []),
                                      (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, with_cookie)


def main(argv: list[str] | None = None) -> int:
    from reports.store import store_location

    parser = argparse.ArgumentParser(prog="python -m reports serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=None, metavar="URL",
                        help="postgresql://... or a SQLite file (default: "
                        "$METER_TEST_RIG_STORE, else RUNS_DIR/results.sqlite)")
    parser.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8750, help="port (default 8750; 0: any)")
    parser.add_argument("--token", default=None,
                        help=f"required off 127.0.0.1 (or set {TOKEN_ENV})")
    parser.add_argument("--poll", type=float, default=0.2, help="store poll interval, s")
    args = parser.parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.host not in LOOPBACK and not token:
        parser.error(f"--host {args.host}: off 127.0.0.1 the panel needs a token set by the lab "
                     f"(--token or {TOKEN_ENV})")
    try:
        location = store_location(args.store, Path(args.runs_dir))
        panel = Panel(location, poll_s=args.poll)
        panel.read(signature)  # the store answers before the server starts
    except StoreError as exc:
        print(f"python -m reports serve: {exc}", flush=True)
        return 2
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    # Listening before the URL is printed: a client that reads it may connect at once (its
    # connection waits in the backlog until the server accepts).
    sock.listen(128)
    print(f"lab panel on http://{args.host}:{sock.getsockname()[1]}/ (store {panel.shown})",
          flush=True)
    config = uvicorn.Config(panel.app(token), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
