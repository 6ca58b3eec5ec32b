"""``RUN/report.html``: the run explained in one page, rebuilt from the run folder alone.

What it shows: the film player; one row per shot (keyframes, the memory it saw, the critic's verdicts and
retries, mode, seed, render time, metrics from ``eval.json`` when ``eval`` has run: shown as the film's only
when they measured its current shot videos, else marked out of date with what they covered (see
``agents.eval.coverage``)); the versions with their
requests; backends, settings and notices; links to every file of the run.

How: one HTML file with its CSS inline and no script; images and videos are linked by relative paths, so
it works from ``file://`` and keeps working when the folder is copied. Every text that comes from a script,
a bible, a model or a request is HTML-escaped; every link is a run-relative path that stays inside the run.
A narrow screen gets one column (phones).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

REPORT = "report.html"
_SKIP_FILES = {".lock"}

CSS = """
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f4;color:#1d1d1b}
header,main{max-width:1180px;margin:0 auto;padding:12px 16px}h1{font-size:1.45em;margin:.3em 0}h2{font-size:1.15em;margin:1.4em 0 .5em}
.muted{color:#666}.pill{display:inline-block;padding:1px 8px;border-radius:10px;background:#e6e6e1;font-size:.85em;margin:0 4px 4px 0}
.ok{background:#d9f0d9}.warn{background:#fbe8c8}.bad{background:#f7d4d4}
video{width:100%;max-height:70vh;background:#000;border-radius:6px}
.shot{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 12px;margin:10px 0;display:grid;grid-template-columns:210px 1fr;gap:10px 16px}
.shot h3{margin:0;font-size:1.05em}.prompt{margin:.2em 0 .5em}.thumbs{display:flex;flex-wrap:wrap;gap:6px}
.thumbs figure{margin:0;width:132px}.thumbs img{width:132px;height:auto;border-radius:4px;display:block;border:1px solid #ccc}
.thumbs figcaption{font-size:.75em;color:#555;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top;font-size:.92em}
.stale{background:#fbe8c8;padding:6px 8px;border-radius:4px}.verdict{margin:.2em 0;padding:4px 6px;border-left:3px solid #bbb;background:#fafafa}.verdict.accept{border-color:#4a4}.verdict.retry{border-color:#d80}
  .scroll{overflow-x:auto;margin:6px 0}ul.files{columns:2;font-size:.88em}a{color:#1457a8;overflow-wrap:anywhere}
@media (max-width:700px){.shot{grid-template-columns:1fr}ul.files{columns:1}.thumbs figure,.thumbs img{width:104px}}
"""


def esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def href(rel: str) -> str:
    """A run-relative path as a relative URL (each segment percent-encoded)."""
    return "/".join(quote(part) for part in Path(rel).as_posix().split("/"))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _inside(root: Path, rel: str | None) -> str | None:
    """``rel`` if it names an existing file inside the run, else None."""
    if not rel or not isinstance(rel, str):
        return None
    try:
        p = (root / rel).resolve()
        p.relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return Path(rel).as_posix() if p.is_file() else None


def _fmt(x, nd: int = 3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _thumbs(root: Path, items: list[tuple[str, str | None]], empty: str) -> str:
    figs = []
    for label, rel in items:
        rel = _inside(root, rel)
        if rel is None:
            figs.append(f'<figure><figcaption>{esc(label)} (file missing)</figcaption></figure>')
            continue
        figs.append(f'<figure><a href="{href(rel)}"><img src="{href(rel)}" alt="{esc(label)}"></a>'
                    f'<figcaption>{esc(label)}</figcaption></figure>')
    return f'<div class="thumbs">{"".join(figs)}</div>' if figs else f'<p class="muted">{esc(empty)}</p>'


def _verdicts(shot: dict) -> str:
    out = []
    for rep in shot.get("verdicts") or []:
        v = rep.get("verdict") or {}
        action = v.get("action", "?")
        cls = "accept" if action == "accept" else "retry"
        detail = ""
        if action == "reprompt":
            detail = f" new prompt: {esc(v.get('prompt'))}"
        elif action == "inject_details":
            detail = f" characters: {esc(', '.join(v.get('characters') or []))}"
        elif action == "swap_keyframes":
            detail = f" drop: {esc(', '.join(v.get('drop') or []) or '-')}; add: {esc(', '.join(v.get('add') or []) or '-')}"
        findings = "".join(
            f'<li><span class="pill {"bad" if f.get("severity") == "major" else ""}">{esc(f.get("check"))}</span>{esc(f.get("message"))}</li>'
            for f in rep.get("findings") or [])
        out.append(f'<div class="verdict {cls}"><b>attempt {esc(rep.get("attempt"))} · {esc(rep.get("stage", "shot"))} · '
                   f'{esc(rep.get("critic"))}: {esc(action)}</b> — {esc(v.get("reason"))}{detail}'
                   f'{f"<ul>{findings}</ul>" if findings else ""}</div>')
    return "".join(out) or '<p class="muted">no critique recorded</p>'


def _read_dict(path: Path) -> dict:
    """A JSON object from ``path``; {} when it is missing, unreadable or not an object."""
    data = _read_json(path)
    return data if isinstance(data, dict) else {}


def _prompts(script: dict) -> dict[str, str]:
    """Shot id (``SS-KK``) -> the script's prompt, read leniently (a damaged script gives fewer)."""
    prompts = {}
    for scene in script.get("scenes") or []:
        if not isinstance(scene, dict) or not isinstance(scene.get("video_prompts"), list):
            continue
        try:
            num = int(scene.get("scene_num", 0))
        except (TypeError, ValueError):
            continue
        for i, p in enumerate(scene["video_prompts"], start=1):
            prompts[f"{num:02d}-{i:02d}"] = p
    return prompts


def _eval(root: Path):
    """``(RunEval | None, problem)``: the stored eval, or None with why ("" when there is none)."""
    from pydantic import ValidationError

    from schemas.eval import RunEval

    path = root / "eval.json"
    if not path.exists():
        return None, ""
    try:
        return RunEval.model_validate(_read_json(path)), ""
    except ValidationError:
        return None, f"{path.name} is unreadable (damaged or from another version of dailies)"


def _metrics(root: Path, ev, cov) -> str:
    """The Metrics section: the eval's film-level numbers, marked out of date when they are not this film's."""
    f = ev.film
    rows = "".join(f"<tr><th>{esc(name)}</th><td>{_fmt(getattr(f, key))}</td></tr>" for key, name in (
        ("aesthetic", "aesthetic quality"), ("prompt_following_global", "prompt following, global"),
        ("prompt_following_shot", "prompt following, single-shot"), ("cross_shot_all", "cross-shot consistency, all pairs"),
        ("cross_shot_top10", "cross-shot consistency, top-10 pairs"), ("identity", "character identity")))
    scorers = ", ".join(f"{esc(s.role)}: {esc(s.name)}" for s in ev.scorers)
    paper = 'Paper scorers.' if ev.comparable else '<b>Fallback scorers: not comparable with the StoryMem paper.</b>'
    if cov.current:
        head = (f"<h2>Metrics</h2><p class=\"muted\">eval of version {esc(ev.version)} at {esc(ev.evaluated_at)}; "
                f"scorers: {scorers}. {paper}</p>")
    else:
        head = (f"<h2>Metrics <span class=\"pill warn\">out of date</span></h2>"
                f"<p class=\"stale\">{esc(cov.summary(ev, str(root)))}</p>"
                f"<p class=\"muted\">scorers: {scorers}. {paper}</p>")
    out = head + f"<div class=\"scroll\"><table class=\"{'current' if cov.current else 'stale'}\">{rows}</table></div>"
    if ev.characters:
        out += ("<div class=\"scroll\"><table><tr><th>character</th><th>anchor</th><th>seen in</th><th>mean distance</th>"
                "<th>same-person rate</th><th>worst shot</th></tr>" + "".join(
            f"<tr><td>{esc(c.name)}</td><td>{esc(c.anchor or 'none')}</td><td>{esc(', '.join(c.seen_in))}</td>"
            f"<td>{_fmt(c.mean_distance)}</td><td>{_fmt(c.same_person_rate)}</td><td>{esc(c.worst_shot or '-')}</td></tr>"
            for c in ev.characters) + "</table></div>")
    return out


def _unscored(sid: str, cov) -> str:
    """Why a shot shows no metrics."""
    if cov is None or sid not in cov.measured:
        return "not evaluated"
    if cov.unchecked:
        return "out of date (the eval cannot tell which video it scored)"
    return "out of date (re-rendered since the eval)"


def build_report(run_dir: str | Path) -> str:
    """The report's HTML for the run in ``run_dir``.

    Raises :class:`~agents.director.rundir.RunError` (one line naming the problem and the fix) when the
    folder is not a run or its ``manifest.json`` is missing or corrupt; every other file of the run is read
    leniently (what cannot be read is shown as missing)."""
    from agents.director.rundir import RunDir
    from agents.eval.coverage import coverage, current_videos

    run = RunDir.open(run_dir)
    root = Path(run_dir)
    m = run.manifest.model_dump(mode="json")
    script = _read_dict(root / "script.json")
    bible = _read_dict(root / "bible.json")
    bank = _read_dict(root / "memory" / "bank.json")
    history = _read_json(root / "versions" / "history.json") or []
    ev, ev_problem = _eval(root)
    cov = coverage(ev, current_videos(run)) if ev else None
    keyframes = {k.get("id"): k for k in bank.get("keyframes") or [] if isinstance(k, dict)}
    prompts = _prompts(script)
    fresh = cov.fresh_shots() if cov else set()
    shot_scores = {s.shot_id: s.model_dump() for s in ev.shots if s.shot_id in fresh} if ev else {}
    cast = bible.get("cast") if isinstance(bible.get("cast"), dict) else {}
    settings = m.get("settings") or {}
    title = script.get("story_name") or root.name

    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<link rel=\"icon\" href=\"data:,\">",
        f"<title>{esc(title)} — dailies report</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><p class=\"muted\">{esc(script.get('story_overview'))}</p>",
        f"<p><span class=\"pill {'ok' if m.get('status') == 'complete' else 'warn'}\">{esc(m.get('status'))}</span>"
        f"<span class=\"pill\">version {esc(m.get('version'))}</span><span class=\"pill\">{len(m['shots'])} shots</span>"
        f"<span class=\"pill\">engine {esc(settings.get('engine'))}</span>"
        f"<span class=\"pill\">{esc(settings.get('width'))}x{esc(settings.get('height'))}, {esc(settings.get('num_frames'))} frames @ {esc(settings.get('fps'))} fps</span>"
        f"<span class=\"pill\">wall {_fmt(m.get('wall_seconds'), 1)} s</span><span class=\"pill\">{esc(m.get('total_retries', 0))} retries</span></p></header><main>",
    ]
    film = _inside(root, m.get("film"))
    if film:
        parts.append(f'<video id="film" controls playsinline preload="metadata" src="{href(film)}"></video>'
                     f'<p><a href="{href(film)}">{esc(film)}</a></p>')
    else:
        parts.append('<p class="muted">No film yet (the run is not finished).</p>')

    if ev:
        parts.append(_metrics(root, ev, cov))
    else:
        why = f"{esc(ev_problem)}; " if ev_problem else "No metrics yet: "
        parts.append(f'<p class="muted">{why}run <code>python main.py eval {esc(root)}</code>.</p>')

    parts.append("<h2>Shots</h2>")
    for st in m["shots"]:
        sid = st.get("shot_id")
        out = st.get("outputs") or {}
        kf = [(k, (keyframes.get(k) or {}).get("path")) for k in out.get("keyframes") or []]
        mem = [(k, (keyframes.get(k) or {}).get("path")) for k in st.get("memory_ids") or []]
        video = _inside(root, out.get("video"))
        s = shot_scores.get(sid) or {}
        ident = ", ".join(f"{esc(c)} {_fmt(d)}" for c, d in (s.get("identity") or {}).items())
        metrics = (f"aesthetic {_fmt(s.get('aesthetic'))} · prompt following {_fmt(s.get('prompt_following'))}"
                   + (f" · faces {esc(s.get('faces'))}" if s.get("faces") is not None else "")
                   + (f" · identity {ident}" if ident else "")) if s else _unscored(sid, cov)
        rejected = sorted((root / "shots" / "rejected").glob(f"{sid}*.mp4")) if sid else []
        links = [f'<a href="{href(video)}">{esc(video)}</a>'] if video else []
        links += [f'<a href="{href(p.relative_to(root).as_posix())}">{esc(p.relative_to(root).as_posix())}</a>' for p in rejected]
        parts.append(
            f'<section class="shot" data-shot="{esc(sid)}"><div><h3>{esc(sid)}</h3>'
            f'<p><span class="pill {"ok" if st.get("status") == "accepted" else "warn"}">{esc(st.get("status"))}</span>'
            f'<span class="pill">{esc(st.get("mode") or "-")}</span><span class="pill">seed {esc(st.get("seed"))}</span>'
            f'<span class="pill">{esc(st.get("attempts"))} attempt(s)</span><span class="pill">{_fmt(st.get("render_seconds"), 1)} s</span>'
            f'<span class="pill">v{esc(st.get("version"))}</span></p>'
            f'<p class="muted">cast: {esc(", ".join(map(str, cast.get(sid) or [])) or "-")}</p><p>{" · ".join(links)}</p></div>'
            f'<div><p class="prompt">{esc(prompts.get(sid, ""))}</p>'
            + (f'<p class="muted">rendered prompt: {esc(st.get("prompt"))}</p>' if st.get("prompt") and st.get("prompt") != prompts.get(sid) else "")
            + f'<p class="muted">metrics: {metrics}</p>'
            f'<b>keyframes</b>{_thumbs(root, kf, "no keyframes")}'
            f'<b>memory it saw</b>{_thumbs(root, mem, "no memory (first shot or text-only)")}'
            f'<b>critic</b>{_verdicts(st)}</div></section>')

    parts.append("<h2>Versions</h2>")
    if isinstance(history, list) and history:
        rows = []
        for r in history:
            if not isinstance(r, dict):
                continue
            fl = _inside(root, r.get("film"))
            edits = "; ".join(esc(e.get("op")) for e in r.get("edits") or [] if isinstance(e, dict))
            rows.append(f"<tr><td>v{esc(r.get('version'))}</td><td>{esc(r.get('action'))}</td><td>{esc(r.get('request') or '-')}</td>"
                        f"<td>{edits or '-'}</td><td>{esc(', '.join(r.get('rerendered') or []) or '-')}</td>"
                        f"<td>{f'<a href={chr(34)}{href(fl)}{chr(34)}>{esc(fl)}</a>' if fl else '-'}</td><td>{esc(r.get('at'))}</td></tr>")
        parts.append("<div class=\"scroll\"><table><tr><th>version</th><th>what</th><th>request</th><th>edits</th><th>rendered</th><th>film</th>"
                     "<th>at</th></tr>" + "".join(rows) + "</table></div>")
    else:
        parts.append('<p class="muted">one version</p>')

    backends = m.get("backends") or {}
    parts.append("<h2>Backends</h2><div class=\"scroll\"><table><tr><th>role</th><th>ran</th><th>detail / how to get the real one</th></tr>" + "".join(
        f"<tr><td>{esc(role)}</td><td>{esc(b.get('name'))}{' (embedded default)' if b.get('embedded') else ''}</td>"
        f"<td>{esc(b.get('upgrade') if b.get('embedded') else b.get('detail'))}</td></tr>"
        for role, b in backends.items() if isinstance(b, dict)) + "</table></div>")
    notices = m.get("notices") or []
    if notices:
        parts.append("<h2>Notices</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notices) + "</ul>")

    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.name not in _SKIP_FILES and not p.name.startswith(".") and p.name != REPORT)
    parts.append(f"<h2>Files ({len(files)})</h2><ul class=\"files\">"
                 + "".join(f'<li><a href="{href(f)}">{esc(f)}</a></li>' for f in files) + "</ul>")
    parts.append(f'<p class="muted">Rebuild with <code>python main.py report {esc(root)}</code>. Run {esc(m.get("run_id"))}, '
                 f'created {esc(m.get("created_at"))} from {esc(m.get("source"))}.</p></main></body></html>\n')
    return "".join(parts)
