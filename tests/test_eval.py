"""``eval``: the ST-Bench metric definitions, the CPU fallback, the CLI's tables, JSON and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.eval import metrics
from engine.scoring.fallback import StatsVideo, TfidfText
from engine.scoring.frames import sample_indices

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "story" / "examples"
SMALL = ["--size", "128x80", "--frames", "9", "--quiet", "--engine", "preview"]


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "160", **(env or {})})


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# -- definitions --------------------------------------------------------------------------------
def test_cross_shot_all_is_the_mean_over_every_pair():
    v = _unit(np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]]))
    expected = np.mean([v[0] @ v[1], v[0] @ v[2], v[1] @ v[2]])
    assert metrics.cross_shot_all(v) == pytest.approx(expected)
    assert metrics.cross_shot_all(v[:1]) is None


def test_top10_pairs_are_chosen_by_prompt_similarity_not_video_similarity():
    rng = np.random.default_rng(0)
    n = 8  # 28 pairs
    text = _unit(rng.normal(size=(n, 16)))
    video = _unit(rng.normal(size=(n, 16)))
    score, pairs = metrics.cross_shot_top(video, text)
    assert len(pairs) == 10
    tsim = {(i, j): text[i] @ text[j] for i, j in metrics.shot_pairs(n)}
    best = sorted(tsim, key=lambda p: -tsim[p])[:10]
    assert pairs == best
    assert score == pytest.approx(np.mean([video[i] @ video[j] for i, j in best]))
    # With fewer than 11 pairs every pair counts and top-10 equals all pairs.
    s4, p4 = metrics.cross_shot_top(video[:4], text[:4])
    assert len(p4) == 6 and s4 == pytest.approx(metrics.cross_shot_all(video[:4]))


def test_prompt_following_is_the_cosine_per_shot():
    v = _unit(np.array([[1.0, 0], [0, 1.0]]))
    t = _unit(np.array([[1.0, 1.0], [0, 1.0]]))
    assert metrics.prompt_following(v, t) == pytest.approx([2 ** -0.5, 1.0])


def test_frame_sampling_follows_viclip_frames2tensor():
    assert list(sample_indices(81, 8)) == [0, 10, 20, 30, 40, 50, 60, 70]
    assert list(sample_indices(8, 8)) == list(range(8))
    assert list(sample_indices(4, 8)) == [0, 0, 1, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError):
        sample_indices(0, 8)


def test_tfidf_ranks_related_prompts_higher():
    t = TfidfText().embed_texts(["A girl in a green raincoat at the noodle stall",
                                 "The girl in the green raincoat laughs at the stall",
                                 "Storm clouds roll over an empty harbour"])
    assert t[0] @ t[1] > t[0] @ t[2]
    assert np.allclose(np.linalg.norm(t, axis=1), 1.0)


def test_stats_video_has_no_text_and_unit_rows():
    rng = np.random.default_rng(1)
    vids = [rng.integers(0, 255, (9, 40, 64, 3), dtype=np.uint8) for _ in range(2)]
    e = StatsVideo().embed_videos(vids)
    assert e.shape[0] == 2 and np.allclose(np.linalg.norm(e, axis=1), 1.0)
    assert StatsVideo.has_text is False


# -- the CLI on real preview runs ---------------------------------------------------------------
@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two preview runs of the same script and seed, memory on: the default bank (10) and --max-memory-size 1."""
    tmp = tmp_path_factory.mktemp("eval")
    for name, size in (("memory10", "10"), ("memory1", "1")):
        r = run_cli("render", str(EXAMPLES / "night_market.json"), "--out", str(tmp / name), "--seed", "3",
                    "--max-memory-size", size, *SMALL, cwd=tmp)
        assert r.returncode == 0, r.stderr
    return tmp


@pytest.mark.slow
def test_eval_prints_two_runs_side_by_side_with_the_scorers_named(two_runs):
    out = two_runs / "scores.json"
    r = run_cli("eval", "memory10", "memory1", "--json", str(out), cwd=two_runs)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "Side by side" in text
    side = text[text.index("Side by side"):]
    assert "memory10" in side and "memory1" in side
    for metric in ("aesthetic quality", "prompt following, global", "cross-shot consistency, all pairs",
                   "cross-shot consistency, top-10 pairs", "character identity"):
        assert metric in side
    for scorer in ("stats-quality-v1/10", "stats-v1 (8-frame mean)", "tfidf-v1", "dlib-resnet-v1"):
        assert scorer in text
    assert "NOT comparable with the StoryMem paper" in text

    data = json.loads(out.read_text())
    assert data["comparable"] is False and len(data["runs"]) == 2
    a, b = (x["film"] for x in data["runs"])
    for film in (a, b):
        assert 0.0 < film["aesthetic"] <= 1.0
        assert -1.0 <= film["cross_shot_all"] <= 1.0 and film["cross_shot_top10"] is not None
        assert film["prompt_following_shot"] is None and film["prompt_following_global"] is None
        assert len(film["top10_pairs"]) == 10
    assert a != b  # the memory bank's size changes the films
    # The table's film numbers are the JSON's.
    assert f"{a['cross_shot_all']:.3f}" in side and f"{b['cross_shot_all']:.3f}" in side
    run0 = data["runs"][0]
    assert [s["shot_id"] for s in run0["shots"]] == ["01-01", "01-02", "01-03", "02-01", "02-02", "02-03", "03-01", "03-02"]
    assert {c["name"] for c in run0["characters"]} == {"Mei", "Grandpa Chen", "Tomas"}
    # Stored beside each run, and the report picked the metrics up.
    stored = json.loads((two_runs / "memory10" / "eval.json").read_text())
    assert stored["film"] == a
    assert f"{a['cross_shot_all']:.3f}" in (two_runs / "memory10" / "report.html").read_text()


@pytest.mark.slow
def test_eval_json_to_stdout_is_pure_json(two_runs):
    r = run_cli("eval", "memory10", "--json", "-", "--no-write", "--no-identity", cwd=two_runs)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["runs"][0]["story_name"] == "Lanterns at the Night Market"
    assert all(s["role"] != "identity" for s in data["scorers"])


@pytest.mark.slow
def test_eval_st_bench_over_a_batch_folder(two_runs, tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "night_market.json").write_bytes((EXAMPLES / "night_market.json").read_bytes())
    (bench / "lighthouse.json").write_bytes((EXAMPLES / "lighthouse.json").read_bytes())
    batch = tmp_path / "batch"
    batch.mkdir()
    os.symlink(two_runs / "memory10", batch / "night_market")
    r = run_cli("eval", "--st-bench", str(bench), str(batch), "--json", str(tmp_path / "b.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "night_market" in r.stdout and "not scored: lighthouse" in r.stdout and "mean" in r.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    assert list(data["runs"]) == ["night_market"] and data["missing"] == ["lighthouse"]
    assert data["mean"]["aesthetic"] == data["runs"]["night_market"]["film"]["aesthetic"]
    index = (batch / "index.html").read_text()
    assert "night_market/report.html" in index and "Lanterns at the Night Market" in index


def _batch(two_runs: Path, folder: Path, kind: str, path: Path | None = None) -> Path:
    """A batch folder as `main.py batch` leaves it: batch.json (input ``kind``), two finished films, and one
    whose render was stopped part-way."""
    import shutil

    for name in ("memory10", "memory1", "stopped"):
        shutil.copytree(two_runs / ("memory10" if name == "stopped" else name), folder / name)
        (folder / name / "eval.json").unlink(missing_ok=True)
    m = json.loads((folder / "stopped" / "manifest.json").read_text())
    m["status"] = "rendering"
    (folder / "stopped" / "manifest.json").write_text(json.dumps(m))
    (folder / "batch.json").write_text(json.dumps({"input": {"kind": kind, "path": str(path) if path else None},
                                                   "films": [{"key": n, "run_dir": n, "status": "complete"}
                                                             for n in ("memory10", "memory1")]}))
    return folder


@pytest.mark.slow
def test_eval_of_a_batch_folder_scores_its_finished_films_and_rebuilds_its_index(two_runs, tmp_path):
    batch = _batch(two_runs, tmp_path / "batch", "loglines")
    r = run_cli("eval", str(batch), "--no-identity", "--json", str(tmp_path / "b.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"Batch {batch}: 2 film(s)" in r.stdout and "mean" in r.stdout
    assert "not scored: stopped (rendering" in r.stdout and "python main.py resume" in r.stdout
    for name in ("memory10", "memory1"):
        assert (batch / name / "eval.json").is_file() and (batch / name / "report.html").is_file()
    assert not (batch / "stopped" / "eval.json").exists()
    data = json.loads((tmp_path / "b.json").read_text())
    films = data["batches"][str(batch)]["runs"]
    assert set(films) == {"memory10", "memory1"}
    index = (batch / "index.html").read_text()
    assert f"{films['memory1']['film']['cross_shot_all']:.3f}" in index
    # The page's advice is what works for this batch: `eval DIR`, and no ST-Bench for logline films.
    assert f"python main.py eval {batch}</code>" in index and "--st-bench" not in index


def test_a_batch_of_scripts_is_advised_its_st_bench_command(tmp_path):
    from report.batch import build_index

    bench = tmp_path / "scripts"
    bench.mkdir()
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "a").mkdir()
    (batch / "a" / "manifest.json").write_text(json.dumps({"source": str(bench / "a.json"), "shots": []}))
    (batch / "batch.json").write_text(json.dumps({"input": {"kind": "scripts", "path": str(bench)}, "films": []}))
    assert f"python main.py eval --st-bench {bench} {batch}" in build_index(batch)
    (batch / "batch.json").unlink()  # a folder of runs rendered from script files
    assert f"python main.py eval --st-bench {bench} {batch}" in build_index(batch)
    (batch / "a" / "manifest.json").write_text(json.dumps({"source": "logline: a keeper", "shots": []}))
    page = build_index(batch)
    assert "--st-bench" not in page and f"python main.py eval {batch}" in page


def test_eval_of_a_batch_without_a_finished_film_is_one_line(tmp_path):
    (tmp_path / "batch" / "a").mkdir(parents=True)
    (tmp_path / "batch" / "a" / "manifest.json").write_text(json.dumps(
        {"run_id": "a", "created_at": "2026-01-01T00:00:00+00:00", "source": "logline: x", "settings": {},
         "status": "rendering"}))
    r = run_cli("eval", "batch", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no finished film under batch" in lines[0] and "a (rendering, 0 of 0 shots" in lines[0]
    assert not (tmp_path / "batch" / "index.html").exists()


@pytest.mark.parametrize("args, words", [
    ((), ["nothing to score"]),
    ((".",), ["is empty", "neither a run nor a batch folder"]),
    (("no-such-run",), ["no-such-run", "not a folder"]),
    (("--st-bench", "nowhere", "."), ["--st-bench nowhere", "not a folder"]),
    (("x", "--st-bench", "a", "b"), ["either RUN folders or --st-bench"]),
    (("--frames-per-shot", "0", "x"), ["--frames-per-shot 0"]),
])
def test_eval_bad_input_is_one_line(tmp_path, args, words):
    r = run_cli("eval", *args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(("usage:", " "))]
    assert len(lines) == 1, r.stderr  # argparse's usage lines aside, one line
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.slow
def test_missing_paper_models_are_listed_in_one_error(two_runs, tmp_path):
    models = tmp_path / "models"
    (models / "aesthetic").mkdir(parents=True)
    (models / "aesthetic" / "sa_0_4_vit_l_14_linear.pth").write_bytes(b"")
    r = run_cli("eval", str(two_runs / "memory10"), "--eval-models", str(models), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "missing: CLIP ViT-L/14, ViCLIP;" in lines[0]
    for w in ("ViClip-InternVid-10M-FLT.pth", "vit_large_patch14_clip_224", "sa_0_4_vit_l_14_linear.pth", str(models)):
        assert w in lines[0]


def test_coverage_tells_current_metrics_from_stale_ones():
    from agents.eval.coverage import coverage
    from schemas.eval import FilmScores, RunEval, ShotScores

    def ev(shots: dict[str, str | None], total: int) -> RunEval:
        return RunEval(run="r", story_name="s", version=1, engine="preview", evaluated_at="t", comparable=False,
                       scorers=[], film=FilmScores(), shots_total=total,
                       shots=[ShotScores(shot_id=k, prompt="", video_sha256=h) for k, h in shots.items()])

    now = {"01-01": "a", "01-02": "b", "01-03": "c"}
    assert coverage(ev(now, 3), now).current
    part = coverage(ev({"01-01": "a", "01-02": "old"}, 3), now)
    assert not part.current and part.changed == ["01-02"] and part.missing == ["01-03"]
    assert part.fresh_shots() == {"01-01"}
    text = part.summary(ev({"01-01": "a", "01-02": "old"}, 3), "RUN")
    assert "measured 2 of 3 shots (01-01, 01-02)" in text and "`python main.py eval RUN`" in text
    old = coverage(ev({"01-01": None, "01-02": None, "01-03": None}, 3), now)  # made before hashes were recorded
    assert not old.current and old.unchecked and old.fresh_shots() == set()
