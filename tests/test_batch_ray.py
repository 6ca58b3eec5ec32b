"""Batches on a real local Ray cluster with the preview engine at tiny sizes (CPU).

One cluster (2 CPUs) is started for the module, with the test process's PYTHONPATH removed, and
each batch is a real ``main.py batch`` process joining it through ``--ray-address``; the driver is
launched from a folder outside the checkout (``python -c``), so neither its script folder nor its
working directory points Ray's workers at this checkout: only the batch's runtime environment does
(without it the workers import the installed copy of dailies, or fail to import ``agents.batch``).
The ``--theme`` test starts its own local cluster, as a user's first batch does.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from story.files import sha256_file

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TINY = ["--size", "160x96", "--frames", "9", "--seed", "1", "--engine", "preview"]
LOGLINES = [
    "A lonely lighthouse keeper befriends a stranded whale",
    "A robot learns to garden",
    "A girl races her grandfather across a frozen lake",
]
LAUNCH = f"import sys; sys.path.insert(0, {str(REPO)!r}); import main; sys.exit(main.main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def ray_address():
    import ray

    if ray.is_initialized():
        ray.shutdown()
    saved = os.environ.pop("PYTHONPATH", None)  # the cluster's workers must not inherit this checkout
    try:
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 1024**2,
                 logging_level=logging.ERROR, log_to_driver=False)
    finally:
        if saved is not None:
            os.environ["PYTHONPATH"] = saved
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, "batch", *args]


def batch(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _index(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


def _films(out: Path) -> dict[str, dict]:
    return {f["key"]: f for f in _index(out)["films"]}


def _manifest(run: Path) -> dict | None:
    try:
        return json.loads((run / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file of a folder (dotfiles aside) with its mtime and content hash."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, sha256_file(p))
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def _loglines(tmp_path: Path, lines=LOGLINES) -> Path:
    f = tmp_path / "loglines.txt"
    f.write_text("\n".join(lines) + "\n")
    return f


def test_three_films_on_ray_then_a_rerun_touches_nothing(tmp_path, ray_address):
    out = tmp_path / "batch"
    args = [str(_loglines(tmp_path)), "--out", str(out), "--ray-address", ray_address, "--shots", "3", *TINY]
    r = batch(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    films = _films(out)
    assert len(films) == 3
    for key, f in films.items():
        assert f["status"] == "complete" and f["reason"] is None and f["attempts"] == 1
        assert f["backends"]["engine"] == "preview" and f["backends"]["planner"] == "offline"
        assert f["shots_done"] == f["shots_total"] == 3 and f["wall_seconds"] > 0 and f["task_seconds"] > 0
        assert (out / f["film"]).stat().st_size > 0 and f["film"] == f"{key}/film.mp4"
        assert f["worker"]["code"] == str(REPO)  # the workers imported this checkout
        m = _manifest(out / key)
        assert m["status"] == "complete" and m["source"] == f"logline: {f['source']['logline']}"
    assert {f["source"]["logline"] for f in films.values()} == set(LOGLINES)
    # progress: films done / running / failed and the current shot of each running film
    assert "films: 3 done / 0 running / 0 failed" in r.stdout
    assert "shot 01-01" in r.stdout and "/ 2 running / 0 failed" in r.stdout  # two films at once on 2 CPUs
    assert "Batch" in r.stdout and "planner offline; engine preview" in r.stdout

    before = _snapshot(out)
    r2 = batch(*args, cwd=tmp_path)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert "nothing to render (Ray not started)" in r2.stdout
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if k != "batch.json"} == {k: v for k, v in before.items() if k != "batch.json"}

    # each film's folder is an ordinary run folder: revisable on its own
    key = sorted(films)[0]
    rev = subprocess.run([sys.executable, str(REPO / "main.py"), "revise", str(out / key),
                          "shot 2: The whale swims away at sunset. Wide shot.", "--yes", "--quiet"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert rev.returncode == 0, rev.stdout + rev.stderr
    assert _manifest(out / key)["version"] == 2
    r3 = batch(*args, cwd=tmp_path)
    assert r3.returncode == 0 and "nothing to render" in r3.stdout and _films(out)[key]["status"] == "complete"


def test_kill_9_mid_batch_then_the_same_command_resumes(tmp_path, ray_address):
    out = tmp_path / "batch"
    args = [str(_loglines(tmp_path)), "--out", str(out), "--ray-address", ray_address, "--shots", "5",
            "--max-parallel", "1", "--quiet", *TINY]
    proc = subprocess.Popen(_cmd(*args), cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_key = partial_key = None
    deadline = time.time() + 300
    try:
        while proc.poll() is None and time.time() < deadline:
            if (out / "batch.json").exists():
                films = _films(out)
                done = [k for k, f in films.items() if f["status"] == "complete"]
                for k, f in films.items():
                    m = _manifest(out / k)
                    if done and k not in done and m and sum(s["status"] == "accepted" for s in m["shots"]) >= 1:
                        done_key, partial_key = done[0], k
                if partial_key:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert done_key and partial_key, "the batch never reached one finished film and one under way"
    finished = _snapshot(out / done_key)
    m = _manifest(out / partial_key)
    kept = {s["outputs"]["video"]: (out / partial_key / s["outputs"]["video"]).stat().st_mtime_ns
            for s in m["shots"] if s["status"] == "accepted"}
    assert _index(out)  # the index survived the kill (atomic writes)

    r = batch(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    films = _films(out)
    assert all(f["status"] == "complete" for f in films.values())
    assert _snapshot(out / done_key) == finished  # the finished film: byte-identical, same mtimes
    assert films[done_key]["attempts"] == 1
    m2 = _manifest(out / partial_key)
    assert m2["status"] == "complete" and films[partial_key]["attempts"] == 2
    for rel, mtime in kept.items():  # the interrupted film resumed: its finished shots were kept
        assert (out / partial_key / rel).stat().st_mtime_ns == mtime


def _script(path: Path, n_shots: int = 3) -> Path:
    prompts = [f"Mara, a tall woman in a red coat, walks along the harbour at dawn, moment {k}. Wide shot, slow pan."
               for k in range(1, n_shots + 1)]
    path.write_text(json.dumps({"story_name": path.stem, "story_overview": "A walk by the sea.",
                                "scenes": [{"scene_num": 1, "video_prompts": prompts,
                                            "cut": [True] + [False] * (n_shots - 1)}]}))
    return path


def test_a_broken_script_fails_alone_and_is_retried_only_when_asked(tmp_path, ray_address):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    _script(scripts / "harbour.json")
    _script(scripts / "pier.json", n_shots=2)
    (scripts / "broken.json").write_text(json.dumps({"story_name": "x", "story_overview": "y", "scenes": [
        {"scene_num": 1, "video_prompts": ["A man walks.", ""], "cut": [False, True]}]}))
    out = tmp_path / "batch"
    args = [str(scripts), "--out", str(out), "--ray-address", ray_address, *TINY]
    r = batch(*args, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    films = _films(out)
    assert films["harbour"]["status"] == films["pier"]["status"] == "complete"
    bad = films["broken"]
    assert bad["status"] == "failed" and "broken.json" in bad["reason"] and "first shot is a cut" in bad["reason"]
    assert not (out / "broken").exists()  # nothing half-made
    assert "broken" in r.stdout and "first shot is a cut" in r.stdout and "1 film failed" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr

    r2 = batch(*args, cwd=tmp_path)  # without --retry-failed: nothing is rendered, the failure stays
    assert r2.returncode == 1 and "nothing to render" in r2.stdout and "add --retry-failed" in r2.stdout
    assert _films(out)["broken"]["attempts"] == 1

    _script(scripts / "broken.json", n_shots=2)  # fixed
    before = _snapshot(out / "harbour")
    r3 = batch(*args, "--retry-failed", cwd=tmp_path)
    assert r3.returncode == 0, r3.stdout + r3.stderr
    films = _films(out)
    assert films["broken"]["status"] == "complete" and films["broken"]["attempts"] == 2
    assert _snapshot(out / "harbour") == before


def test_ctrl_c_stops_the_films_cleanly_and_the_rerun_resumes(tmp_path, ray_address):
    out = tmp_path / "batch"
    # Films long enough for the interrupt to land mid-film: with warm Ray workers (this module's earlier tests) a
    # 160x96 preview film of 12 shots took 3.6 s, and two CI runs saw both films finish before the Ctrl-C.
    args = [str(_loglines(tmp_path, LOGLINES[:2])), "--out", str(out), "--ray-address", ray_address,
            "--shots", "8", "--size", "416x240", "--frames", "25", "--seed", "1", "--engine", "preview"]
    log_out, log_err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(log_out, "w") as so, open(log_err, "w") as se:  # files, not pipes: a full pipe would stall the driver
        # SIG_DFL for SIGINT, as in a terminal's job: a shell runs background commands with SIGINT ignored, and a
        # child inherits that (pytest started with `&` made every Ctrl-C of this test a no-op)
        proc = subprocess.Popen(_cmd(*args), cwd=tmp_path, env=_env(), stdout=so, stderr=se, text=True,
                                start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        if "1/8 shots" in log_out.read_text(errors="replace"):  # a film has rendered its first shot
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before the Ctrl-C: " + log_out.read_text() + log_err.read_text()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    proc.wait(timeout=120)
    stdout, stderr = log_out.read_text(), log_err.read_text()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr and "Interrupted" in stdout
    films = _films(out)
    stopped = [f for f in films.values() if f["status"] == "interrupted"]
    assert stopped and all("Ctrl-C" in f["reason"] for f in stopped)
    for f in stopped:  # stopped cleanly: the run's manifest is readable, unfinished, and its lock released
        m = _manifest(out / f["key"])
        assert m is not None and m["status"] in ("planned", "rendering")
        fd = os.open(out / f["key"] / ".lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    r = batch(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(f["status"] == "complete" for f in _films(out).values())


def test_theme_with_the_offline_planner_on_a_local_cluster(tmp_path):
    from agents.planner.proposals import OfflineProposer

    out = tmp_path / "batch"
    args = ["--theme", "friendship at sea", "--count", "2", "--out", str(out), "--shots", "3", "--max-parallel", "1",
            *TINY]
    r = batch(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "/ 1 running /" in r.stdout and "/ 2 running /" not in r.stdout  # --max-parallel 1
    proposals = OfflineProposer().propose("friendship at sea", 2)
    for n, line in enumerate(proposals, start=1):
        assert f"{n}. {line}" in r.stdout  # shown before the films
    assert "proposed by the offline planner" in r.stdout
    idx = _index(out)
    assert idx["input"]["proposals"] == proposals and idx["input"]["proposer"] == "offline"
    assert idx["ray_address"] is None
    films = idx["films"]
    assert [f["source"]["logline"] for f in films] == proposals
    assert all(f["status"] == "complete" and f["worker"]["code"] == str(REPO) for f in films)
    assert films[0]["finished_at"] <= films[1]["started_at"]
    r2 = batch(*args, cwd=tmp_path)  # the same command again: the kept proposals, nothing rendered
    assert r2.returncode == 0 and f"kept in {out / 'batch.json'}" in r2.stdout and "nothing to render" in r2.stdout


def test_gpus_that_no_node_has_is_one_line_before_any_film(tmp_path, ray_address):
    out = tmp_path / "batch"
    r = batch(str(_loglines(tmp_path)), "--out", str(out), "--ray-address", ray_address, *TINY, "--engine", "storymem",
              cwd=tmp_path)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "asks for 1 GPU (--gpus)" in lines[0] and "Traceback" not in r.stderr
    assert not (out / "batch.json").exists()
