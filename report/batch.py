"""A batch folder's ``index.html``: every film under it with its status and metrics, linking to its report.

The films are the run folders found under the folder (two levels deep); ``DIR/batch.json``, when present,
adds the batch's own status of each film (read leniently: a list of entries, or an object holding one
under ``films``/``runs``/``items``/``jobs``, or an object keyed by film; an entry names its folder under
``run``/``run_dir``/``out``/``path``/``dir``/``folder`` or ``name``, and its state under ``status``/``state``).
Entries without a run folder yet (queued, failed before creation) are listed too. Nothing here raises on a
damaged batch.json or run: what cannot be read is shown as unknown.
"""

from __future__ import annotations

import json
from pathlib import Path

from report.html import CSS, REPORT, _fmt, esc, href

INDEX = "index.html"
_PATH_KEYS = ("run", "run_dir", "out", "path", "dir", "folder", "name")
_STATUS_KEYS = ("status", "state")
_METRICS = (("aesthetic", "aesthetic"), ("prompt_following_shot", "prompt following"),
            ("cross_shot_all", "consistency (all)"), ("cross_shot_top10", "consistency (top-10)"), ("identity", "identity"))


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def batch_statuses(folder: Path) -> dict[str, str]:
    """Film folder (relative to ``folder``, or its name) -> the batch's status, from ``batch.json``."""
    data = _read(folder / "batch.json")
    entries: list = []
    if isinstance(data, list):
        entries = data
    elif isinstance(data, dict):
        for key in ("films", "runs", "items", "jobs"):
            if isinstance(data.get(key), (list, dict)):
                data = data[key]
                break
        if isinstance(data, list):
            entries = data
        elif isinstance(data, dict):
            entries = [dict(v, name=v.get("name", k)) if isinstance(v, dict) else {"name": k, "status": v}
                       for k, v in data.items()]
    out: dict[str, str] = {}
    for e in entries:
        if not isinstance(e, dict):
            continue
        where = next((str(e[k]) for k in _PATH_KEYS if isinstance(e.get(k), str) and e.get(k)), None)
        status = next((str(e[k]) for k in _STATUS_KEYS if e.get(k) is not None), "unknown")
        if where:
            p = Path(where)
            try:
                rel = (p if p.is_absolute() else folder / p).resolve().relative_to(folder.resolve()).as_posix()
            except ValueError:
                rel = p.name
            out[rel] = status
    return out


def _dict(data) -> dict:
    return data if isinstance(data, dict) else {}


def _eval_state(run: Path):
    """``(film metrics dict, comparable, out-of-date line or "")`` from ``run``'s eval.json, read leniently:
    ``({}, None, "")`` when there is none or it cannot be read."""
    from agents.director.rundir import RunDir, RunError
    from agents.eval.coverage import coverage, current_videos
    from report.html import _eval

    ev, _ = _eval(run)
    if ev is None:
        return {}, None, ""
    try:
        cov = coverage(ev, current_videos(RunDir.open(run)))
    except (RunError, OSError, ValueError):
        return ev.film.model_dump(), ev.comparable, ""
    return ev.film.model_dump(), ev.comparable, cov.summary(ev, str(run))


def advice(root: Path) -> str:
    """How to fill the metric columns of this batch, as HTML: ``eval DIR`` always works; the ST-Bench
    command only when the films render story scripts (with the scripts folder when it is known)."""
    from agents.eval.batch import scripts_folder

    text = f"<code>python main.py eval {esc(root)}</code> scores every finished film"
    scripts, where = scripts_folder(root)
    if scripts:
        text += (f"; <code>python main.py eval --st-bench {esc(where or 'SCRIPTS_DIR')} {esc(root)}</code> also "
                 "matches them to the scripts they render and lists the scripts without a film")
    return text


def build_index(folder: str | Path) -> str:
    """The batch page's HTML for ``folder`` (never raises on a damaged batch.json or run)."""
    from agents.eval.stbench import run_folders

    root = Path(folder)
    runs = run_folders(root)
    statuses = batch_statuses(root)
    rows = []
    seen: set[str] = set()
    for r in runs:
        rel = r.relative_to(root).as_posix()
        seen.add(rel)
        m = _dict(_read(r / "manifest.json"))
        script = _dict(_read(r / "script.json"))
        film, comparable, stale = _eval_state(r)
        status = statuses.get(rel) or statuses.get(r.name) or m.get("status", "unknown")
        link = f"{rel}/{REPORT}" if (r / REPORT).is_file() else (f"{rel}/film.mp4" if (r / "film.mp4").is_file() else f"{rel}/manifest.json")
        thumb = f"{rel}/contact_sheet.png" if (r / "contact_sheet.png").is_file() else None
        shots = m.get("shots") if isinstance(m.get("shots"), list) else []
        scorers = "yes" if comparable else ("fallback" if comparable is not None else "-")
        if stale:
            scorers += f'<div class="stale"><span class="pill warn">out of date</span> {esc(stale)}</div>'
        rows.append(
            f'<tr class="film" data-run="{esc(rel)}"><td><a href="{href(link)}">{esc(script.get("story_name") or r.name)}</a>'
            f'<div class="muted">{esc(rel)}</div></td><td>{esc(status)}</td><td>{esc(len(shots))}</td>'
            f'<td>v{esc(m.get("version", "?"))}</td>'
            + "".join(f"<td{' class=stale' if stale else ''}>{_fmt(film.get(k))}</td>" for k, _ in _METRICS)
            + f'<td>{scorers}</td>'
            + (f'<td><a href="{href(thumb)}"><img src="{href(thumb)}" alt="contact sheet" style="width:160px"></a></td>' if thumb else "<td>-</td>")
            + "</tr>")
    for rel, status in sorted(statuses.items()):
        if rel not in seen and Path(rel).name not in {Path(s).name for s in seen}:
            rows.append(f'<tr class="film pending"><td>{esc(rel)}</td><td>{esc(status)}</td>'
                        + "<td>-</td>" * (3 + len(_METRICS)) + "<td>-</td></tr>")
    head = "".join(f"<th>{esc(n)}</th>" for _, n in _METRICS)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
            f"<title>{esc(root.name)} — dailies batch</title><style>{CSS} table{{overflow-x:auto;display:block}}</style></head><body>"
            f"<header><h1>Batch {esc(root.name)}</h1><p class=\"muted\">{len(runs)} film(s). Metrics come from each film's "
            f"eval.json ({advice(root)}); \"fallback\" numbers are not "
            "comparable with the StoryMem paper.</p></header><main><table><tr><th>film</th><th>status</th><th>shots</th>"
            f"<th>version</th>{head}<th>paper scorers</th><th>contact sheet</th></tr>{''.join(rows)}</table>"
            f"<p class=\"muted\">Rebuild with <code>python main.py report {esc(root)}</code>.</p></main></body></html>\n")


def write_index(folder: str | Path) -> Path:
    """Write ``DIR/index.html`` atomically and return its path; a page whose content is unchanged is left as
    it is (a re-run of a finished batch touches nothing)."""
    from story.files import atomic_write_text

    out = Path(folder) / INDEX
    page = build_index(folder)
    try:
        same = out.read_text(encoding="utf-8") == page
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        atomic_write_text(out, page)
    return out
