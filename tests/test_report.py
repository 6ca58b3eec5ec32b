"""RUN/report.html and a batch folder's index.html: written with the film and after each version change,
escaped, rebuilt from the folder alone, and working in a real headless browser (Debian's chromium driven
by Playwright; .ci/run installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from report import build_report, refresh_report, write_report
from report.batch import batch_statuses, write_index

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "story" / "examples"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
HOSTILE = 'Mia paints <script>alert("x")</script> & <img src=x onerror=alert(1)> "quoted" at dawn. Medium shot.'


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    """A finished preview run with a hostile prompt, revised once (two versions), then evaluated."""
    tmp = tmp_path_factory.mktemp("report")
    script = json.loads((EXAMPLES / "lighthouse.json").read_text())
    script["scenes"][0]["video_prompts"][0] = HOSTILE
    (tmp / "story.json").write_text(json.dumps(script))
    shutil.copy(EXAMPLES / "lighthouse.bible.json", tmp / "story.bible.json")
    r = run_cli("render", "story.json", "--out", "run", "--size", "160x96", "--frames", "17", "--quiet",
                "--engine", "preview", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert (tmp / "run" / "report.html").is_file()  # written with the film
    r = run_cli("revise", "run", "reroll 2", "--yes", "--quiet", cwd=tmp)
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", "run", cwd=tmp)
    assert r.returncode == 0, r.stderr
    return tmp / "run"


def _shots(run: Path) -> int:
    return len(json.loads((run / "manifest.json").read_text())["shots"])


def test_report_escapes_script_text_and_links_inside_the_run(film):
    page = (film / "report.html").read_text()
    assert "<script>" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count('class="shot"') == _shots(film)
    assert 'src="film.mp4"' in page and "http://" not in page and "https://" not in page


def test_report_follows_versions(film, tmp_path):
    page = (film / "report.html").read_text()
    assert "reroll 2" in page and "film_v1.mp4" in page and "film_v2.mp4" in page  # both versions and the request
    m = json.loads((film / "manifest.json").read_text())
    assert m["version"] == 2 and "eval of version 2" in page
    copy = tmp_path / "copy"
    shutil.copytree(film, copy)
    r = run_cli("undo", str(copy), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    after = (copy / "report.html").read_text()
    assert '<span class="pill">version 1</span>' in after  # rewritten by the restore


def test_report_is_rebuilt_from_the_folder_alone(film, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(film, copy)
    (copy / "report.html").unlink()
    r = run_cli("report", str(copy), cwd=tmp_path)
    assert r.returncode == 0 and (copy / "report.html").is_file()
    assert build_report(copy) == (copy / "report.html").read_text()


def test_a_report_failure_never_breaks_anything(tmp_path, capsys):
    from agents.director.rundir import RunError

    (tmp_path / "manifest.json").write_text("{ not json")
    assert refresh_report(tmp_path) is None
    assert "report.html not updated" in capsys.readouterr().err
    with pytest.raises(RunError, match="manifest.json is corrupt"):
        write_report(tmp_path)


def _one_line_refusal(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage, words", [
    (lambda p: p.write_bytes(p.read_bytes()[:500]), ["manifest.json is corrupt", "doctor", "--repair"]),
    (lambda p: p.write_text("[1, 2, 3]"), ["manifest.json is corrupt"]),
    (lambda p: p.write_text('{"shots": "not a list"}'), ["manifest.json is corrupt"]),
])
def test_report_on_a_damaged_manifest_is_one_line(film, tmp_path, damage, words):
    run = tmp_path / "run"
    shutil.copytree(film, run)
    damage(run / "manifest.json")
    before = _snapshot(run)
    line = _one_line_refusal(run_cli("report", str(run), cwd=tmp_path))
    for w in words:
        assert w in line, line
    assert _snapshot(run) == before  # nothing written


def _unrelated(folder: Path) -> None:
    (folder / "notes.txt").write_text("my notes")
    (folder / "photos").mkdir()
    (folder / "photos" / "a.jpg").write_bytes(b"\xff\xd8")


@pytest.mark.parametrize("make, words", [
    (lambda film, d: d.mkdir(), ["is empty", "nothing was written"]),
    (lambda film, d: (d.mkdir(), _unrelated(d)), ["neither a run", "nor a batch folder", "nothing was written"]),
    (lambda film, d: (shutil.copytree(film, d), (d / "manifest.json").unlink()),
     ["no manifest.json", "restore manifest.json", "nothing was written"]),
])
def test_report_refuses_a_folder_that_is_neither_a_run_nor_a_batch(film, tmp_path, make, words):
    folder = tmp_path / "folder"
    make(film, folder)
    before = _snapshot(folder)
    line = _one_line_refusal(run_cli("report", str(folder), cwd=tmp_path))
    for w in words:
        assert w in line, line
    assert _snapshot(folder) == before and not (folder / "index.html").exists()


def test_report_of_a_folder_holding_runs_writes_its_index(film, tmp_path):
    shutil.copytree(film, tmp_path / "films" / "lighthouse")
    r = run_cli("report", str(tmp_path / "films"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "lighthouse/report.html" in (tmp_path / "films" / "index.html").read_text()


def test_metrics_of_another_version_are_marked_out_of_date(film, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(film, copy)
    r = run_cli("undo", str(copy), cwd=tmp_path)  # back to version 1; eval.json measured version 2
    assert r.returncode == 0, r.stderr
    v1 = {s["shot_id"]: s["outputs"]["video_sha256"] for s in json.loads((copy / "manifest.json").read_text())["shots"]}
    ev = json.loads((copy / "eval.json").read_text())
    changed = [s["shot_id"] for s in ev["shots"] if s["video_sha256"] != v1[s["shot_id"]]]
    assert changed  # the reroll of version 2 is not in version 1
    page = (copy / "report.html").read_text()
    assert "out of date" in page and "eval of version" not in page
    assert f"re-rendered since ({', '.join(changed)})" in page
    assert f"python main.py eval {copy}" in page


def test_batch_index_marks_out_of_date_metrics(film, tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(film, batch / "fresh")
    shutil.copytree(film, batch / "undone")
    assert run_cli("undo", str(batch / "undone"), cwd=tmp_path).returncode == 0
    index = write_index(batch).read_text()
    rows = {r.split('"', 1)[0]: r for r in index.split('data-run="')[1:]}
    assert "out of date" in rows["undone"] and "out of date" not in rows["fresh"]


def test_a_batch_publishes_its_index(film, tmp_path):
    from cli.batch import publish_index

    shutil.copytree(film, tmp_path / "out" / "lighthouse")
    page = publish_index(tmp_path / "out")
    assert page == tmp_path / "out" / "index.html" and "lighthouse/report.html" in page.read_text()


def test_batch_statuses_are_read_leniently(tmp_path):
    (tmp_path / "batch.json").write_text(json.dumps({"films": [{"run": "a", "status": "complete"},
                                                               {"out": str(tmp_path / "b"), "state": "failed"},
                                                               "junk", {"status": "nameless"}]}))
    assert batch_statuses(tmp_path) == {"a": "complete", "b": "failed"}
    (tmp_path / "batch.json").write_text(json.dumps({"x": "queued", "y": {"status": "running"}}))
    assert batch_statuses(tmp_path) == {"x": "queued", "y": "running"}
    (tmp_path / "batch.json").write_text("[broken")
    assert batch_statuses(tmp_path) == {}


# -- in a real browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (.ci/run installs it: apt-get install -y chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, url: str, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url} {req.failure}"))
    page.goto(url, wait_until="load")
    return ctx, page, problems


@pytest.mark.slow
def test_report_in_a_headless_browser(film, browser):
    ctx, page, problems = _open(browser, (film / "report.html").as_uri())
    try:
        page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=20000)
        images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert images and all(w > 0 for _, w in images), [s for s, w in images if not w]
        assert page.locator("section.shot").count() == _shots(film)
        played = page.evaluate("""async () => {
            const v = document.querySelector('video#film');
            v.muted = true;
            await v.play();
            const t0 = v.currentTime;
            await new Promise(r => setTimeout(r, 1200));
            return [t0, v.currentTime, v.duration, v.videoWidth, v.error && v.error.code];
        }""")
        assert played[4] is None and played[3] == 160, played
        assert played[1] > played[0], f"the film did not advance: {played}"
        assert problems == []
    finally:
        ctx.close()


@pytest.mark.slow
def test_report_reads_on_a_phone(film, browser):
    ctx, page, problems = _open(browser, (film / "report.html").as_uri(), viewport={"width": 390, "height": 844},
                                device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page is {overflow}px wider than the phone"
        cols = page.evaluate("getComputedStyle(document.querySelector('section.shot')).gridTemplateColumns")
        assert len(cols.split()) == 1  # one column on a narrow screen
        assert problems == []
    finally:
        ctx.close()


@pytest.mark.slow
def test_batch_index_in_a_headless_browser(film, browser, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copytree(film, batch / "lighthouse")
    (batch / "batch.json").write_text(json.dumps({"films": [{"run": "lighthouse", "status": "done"},
                                                            {"run": "queued-one", "status": "queued"}]}))
    index = write_index(batch)
    ctx, page, problems = _open(browser, index.as_uri())
    try:
        assert page.locator("tr.film").count() == 2
        link = page.locator("tr.film a").first
        assert link.get_attribute("href") == "lighthouse/report.html"
        assert "done" in page.locator("tr.film").first.inner_text()
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("lighthouse/report.html") and page.locator("section.shot").count() == _shots(film)
        assert problems == []
    finally:
        ctx.close()


def _kill_after(n: int, args: list[str], cwd: Path, run: Path) -> None:
    """Start ``main.py *args`` and SIGKILL it once ``n`` shots of ``run`` are accepted (as a user's Ctrl-\\ would)."""
    import os
    import signal
    import time

    proc = subprocess.Popen([sys.executable, str(REPO / "main.py"), *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while proc.poll() is None and time.time() < deadline:
            try:
                if sum(s["status"] == "accepted" for s in json.loads((run / "manifest.json").read_text())["shots"]) >= n:
                    break
            except (OSError, ValueError, KeyError):
                pass  # not written yet, or being replaced right now
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_an_eval_of_an_unfinished_render_is_not_shown_as_the_films(tmp_path):
    """The issue: kill a render after 3 shots, eval it, resume: the finished film's report must not present the
    3-shot metrics as the film's; a new eval makes them current again."""
    run = tmp_path / "run"
    _kill_after(3, ["render", str(EXAMPLES / "lighthouse.json"), "--out", str(run), "--size", "160x96", "--frames",
                    "17", "--quiet", "--engine", "preview"], tmp_path, run)
    assert json.loads((run / "manifest.json").read_text())["status"] != "complete", "the kill came too late"
    r = run_cli("eval", str(run), "--no-identity", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ev = json.loads((run / "eval.json").read_text())
    measured = [s["shot_id"] for s in ev["shots"]]
    assert ev["film_sha256"] is None and ev["shots_total"] == 8 and all(s["video_sha256"] for s in ev["shots"])
    r = run_cli("resume", str(run), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    page = (run / "report.html").read_text()
    assert "eval of version" not in page and "out of date" in page
    assert f"measured {len(measured)} of 8 shots ({', '.join(measured)}) of version 1" in page
    assert "before the film was assembled" in page and f"python main.py eval {run}" in page
    unscored = [s["shot_id"] for s in json.loads((run / "manifest.json").read_text())["shots"]
                if s["shot_id"] not in measured]
    assert f"{len(unscored)} of the 8 shots now in the film were not scored ({', '.join(unscored)})" in page
    assert page.count("metrics: not evaluated") == len(unscored)  # the scored shots keep their own numbers

    r = run_cli("eval", str(run), "--no-identity", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = (run / "report.html").read_text()
    assert "out of date" not in page and "eval of version 1" in page and "not evaluated" not in page
