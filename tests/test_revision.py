"""Chat-driven revision on the preview engine: only what a change touches is rendered again,
versions are kept, undo restores the previous version byte for byte, a killed revision resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agents.backends import BackendOptions
from agents.director.rundir import RunDir
from agents.reviser.base import ReviseError
from agents.reviser.grammar import GrammarReviser
from agents.runs import render_script, revise_run, run_history, undo_run
from engine.memory import MemoryBank
from engine.video import read_video
from schemas import RunSettings
from schemas.memory import MemorySettings
from story.files import sha256_file

REPO = Path(__file__).resolve().parent.parent
ADA = "Ada, a young woman with short red hair, wearing a green raincoat"
BEN = "Ben, an old fisherman with a white beard, wearing a yellow sou'wester"
PROMPTS = [
    f"Dawn over a quiet harbour, boats rocking. {BEN}, coils a rope on the pier. Wide shot, slow pan right.",
    f"{ADA}, walks along the pier with a basket. Medium shot, morning light, static camera.",
    f"{BEN}, waves at her from his boat. Medium shot, warm light.",
    f"Noon at the fish market, crowded stalls and gulls overhead. {BEN}, sells fish. Wide shot, tracking.",
    f"{ADA}, buys a fish and laughs. Close-up, bright light, handheld.",
    f"Sunset on the beach, the sky orange. {BEN}, sits alone by the water. Wide shot, dolly out.",
    f"{BEN}, looks at the horizon, thoughtful. Medium shot, golden hour, static camera.",
    f"Night falls over the harbour, lanterns glowing. {BEN}, walks home. Wide shot, pan left.",
]


def story(tmp_path: Path, cuts: list[bool]) -> Path:
    scenes = [{"scene_num": 1, "video_prompts": PROMPTS[:3], "cut": cuts[:3]},
              {"scene_num": 2, "video_prompts": PROMPTS[3:5], "cut": cuts[3:5]},
              {"scene_num": 3, "video_prompts": PROMPTS[5:], "cut": cuts[5:]}]
    ids = ["01-01", "01-02", "01-03", "02-01", "02-02", "03-01", "03-02", "03-03"]
    cast = {sid: [n for n, tag in (("Ada", ADA), ("Ben", BEN)) if tag in p] for sid, p in zip(ids, PROMPTS)}
    bible = {"characters": [
        {"name": "Ada", "appearance": "a young woman with short red hair", "attire": "a green raincoat"},
        {"name": "Ben", "appearance": "an old fisherman with a white beard", "attire": "a yellow sou'wester"}],
        "cast": cast}
    p = tmp_path / "harbour.json"
    p.write_text(json.dumps({"story_name": "Harbour", "story_overview": "A day at a harbour.", "scenes": scenes}))
    (tmp_path / "harbour.bible.json").write_text(json.dumps(bible))
    return p


SIZE = dict(width=160, height=96, num_frames=17)


def render(tmp_path: Path, cuts: list[bool], memory: MemorySettings | None = None) -> Path:
    settings = RunSettings(seed=4, memory=memory or MemorySettings(), **SIZE)
    render_script(story(tmp_path, cuts), tmp_path / "run", settings, BackendOptions(engine="preview"))
    return tmp_path / "run"


def files(run: Path) -> dict[str, tuple[str, str, int]]:
    """shot id -> (video path, sha256, mtime_ns) of the current version."""
    m = json.loads((run / "manifest.json").read_text())
    out = {}
    for s in m["shots"]:
        p = run / s["outputs"]["video"]
        out[s["shot_id"]] = (s["outputs"]["video"], sha256_file(p), p.stat().st_mtime_ns)
    return out


def depends(run: Path, changed: set[str]) -> set[str]:
    """Shots of version 1 that must follow ``changed``: cut=false successors and shots whose memory
    held a keyframe of a changed shot, transitively."""
    m = json.loads((run / "manifest.json").read_text())
    bank = MemoryBank.load(run)
    owner = {k.id: k.shot_id for k in bank.keyframes}
    script = RunDir.open(run).script().shots()
    out = set(changed)
    for shot, st in zip(script, m["shots"]):
        if shot.id in out:
            continue
        prev = script[shot.index - 1].id if shot.index else None
        if (not shot.cut and prev in out) or any(owner.get(k) in out for k in st["memory_ids"]):
            out.add(shot.id)
    return out


def yes(p):
    return True


ALL_CUTS = [True] * 8


@pytest.mark.parametrize("cuts, memory", [
    (ALL_CUTS, MemorySettings()),                                     # 7 and 8 remember shot 6
    (ALL_CUTS, MemorySettings(max_size=3, sink_size=3)),              # memory is the sink: 7, 8 don't
    ([True, True, True, True, True, True, False, True], MemorySettings(max_size=3, sink_size=3)),  # 7 continues 6
])
def test_edit_shot_6_rerenders_exactly_what_depends_on_it(tmp_path, cuts, memory):
    run = render(tmp_path, cuts, memory)
    v1 = files(run)
    expected = depends(run, {"03-01"})
    new_prompt = f"Sunset on the beach in heavy rain, grey clouds. {BEN}, shelters under a boat. Wide shot, dolly out."
    proposal, approved, m = revise_run(run, f"shot 6: {new_prompt}", yes)
    assert approved and m.version == 2 and m.status == "complete"
    v2 = files(run)
    rerendered = {sid for sid in v2 if v2[sid] != v1[sid]}
    assert rerendered == expected
    assert set(proposal["rerender"]) == expected  # the plan shown is the plan that ran
    for sid in ("01-01", "01-02", "01-03", "02-01", "02-02"):
        assert v2[sid] == v1[sid]  # same file, same bytes, untouched
    assert v2["03-01"][0] == "shots/03-01.v2.mp4"
    assert (run / "film_v1.mp4").exists() and (run / "film_v2.mp4").exists()
    assert sha256_file(run / "film.mp4") == sha256_file(run / "film_v2.mp4")
    # Every version's files are kept: version 1's shot 6 is still there.
    assert sha256_file(run / v1["03-01"][0]) == v1["03-01"][1]
    if memory.max_size == 3 and cuts[6]:
        assert expected == {"03-01"}


def test_bible_change_rerenders_the_characters_shots_and_their_dependents(tmp_path):
    run = render(tmp_path, ALL_CUTS, MemorySettings(max_size=3, sink_size=3))
    v1 = files(run)
    m1 = json.loads((run / "manifest.json").read_text())
    with_ada = {sid for sid, names in json.loads((run / "bible.json").read_text())["cast"].items() if "Ada" in names}
    assert with_ada == {"01-02", "02-02"}
    expected = depends(run, with_ada)
    proposal, approved, m = revise_run(run, "character Ada: attire = a blue raincoat", yes)
    v2 = files(run)
    assert {sid for sid in v2 if v2[sid] != v1[sid]} == expected
    bible = json.loads((run / "bible.json").read_text())
    assert bible["characters"][0]["attire"] == "a blue raincoat"
    for s in m.shots:
        if s.shot_id in with_ada:
            assert "wearing a blue raincoat" in s.prompt and "green raincoat" not in s.prompt
    assert m1["shots"][0]["input_hash"] == m.shots[0].input_hash


def test_undo_restores_version_1_byte_for_byte_and_history_lists_versions(tmp_path):
    run = render(tmp_path, ALL_CUTS)
    keep = {name: (run / name).read_bytes() for name in ("film.mp4", "script.json", "bible.json", "manifest.json",
                                                         "memory/bank.json")}
    revise_run(run, "reroll 2; replace \"lanterns glowing\" with \"fireworks bursting\"", yes)
    assert (run / "film.mp4").read_bytes() != keep["film.mp4"]
    records, current = run_history(run)
    assert current == 2 and [r.action for r in records] == ["render", "revise"]
    assert records[1].request.startswith("reroll 2") and "01-02" in records[1].rerendered
    frm, to = undo_run(run)
    assert (frm, to) == (2, 1)
    for name, data in keep.items():
        assert (run / name).read_bytes() == data, name
    assert (run / "film_v2.mp4").exists()  # nothing deleted
    records, current = run_history(run)
    assert current == 1 and records[-1].action == "undo"
    # A new revision after undo is version 3, derived from version 1.
    _, _, m = revise_run(run, "reroll 1", yes)
    assert m.version == 3 and run_history(run)[0][-1].parent == 1
    with pytest.raises(Exception, match="first version|nothing to undo"):
        undo_run(run)
        undo_run(run)


def test_declined_or_unparseable_request_changes_nothing(tmp_path):
    run = render(tmp_path, ALL_CUTS)
    before = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*")
              if p.is_file() and not p.name.startswith(("checkpoints.sqlite", ".lock"))}
    with pytest.raises(ReviseError, match="cannot turn"):
        revise_run(run, "make the night scenes rainy", yes)
    proposal, approved, m = revise_run(run, "shot 2: A gull lands on the pier. Close-up.", lambda p: False)
    assert not approved and proposal["rerender"][0] == "01-02"
    after = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*")
             if p.is_file() and not p.name.startswith(("checkpoints.sqlite", ".lock"))}
    assert after == before


def test_cli_revise_unparseable_is_one_line_and_history_undo_commands(tmp_path):
    run = render(tmp_path, ALL_CUTS)
    cmd = [sys.executable, str(REPO / "main.py")]
    r = subprocess.run([*cmd, "revise", str(run), "make it better", "--yes"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "cannot turn" in r.stderr
    r = subprocess.run([*cmd, "revise", str(run), "reroll 3", "--yes", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Re-render:" in r.stdout and "01-03" in r.stdout
    r = subprocess.run([*cmd, "history", str(run)], capture_output=True, text=True)
    assert r.returncode == 0 and "v2 (current)" in r.stdout and "reroll 3" in r.stdout
    r = subprocess.run([*cmd, "undo", str(run)], capture_output=True, text=True)
    assert r.returncode == 0 and "Version 1 is current again" in r.stdout
    # Without --yes and without a terminal nothing is applied.
    r = subprocess.run([*cmd, "revise", str(run), "reroll 3", "--quiet"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "Not applied" in r.stdout
    assert json.loads((run / "manifest.json").read_text())["version"] == 1


def test_structural_edits_keep_shot_identity(tmp_path):
    run = render(tmp_path, ALL_CUTS, MemorySettings(max_size=3, sink_size=3))
    v1 = files(run)
    request = ("insert after 02-02: A gull steals a fish from the stall. Close-up, bright light.\n"
               "delete 8; move 7 before 03-01; continue 7")
    proposal, approved, m = revise_run(run, request, yes)
    ids = [s.shot_id for s in m.shots]
    assert ids == ["01-01", "01-02", "01-03", "02-01", "02-02", "02-03", "03-01", "03-02"]
    # Shots 1-5 untouched; the old 03-02 (now 03-01) keeps its files only if nothing it depends on changed.
    for sid in ("01-01", "01-02", "01-03", "02-01", "02-02"):
        assert files(run)[sid] == v1[sid]
    script = RunDir.open(run).script()
    assert script.shots()[5].prompt.startswith("A gull steals")
    assert script.shots()[6].prompt == PROMPTS[6]  # moved shot
    assert script.shots()[6].cut is False  # "continue 7": references mean the film as it was shown
    assert m.status == "complete" and len(read_video(run / "film.mp4")) > 0


def test_grammar_and_errors():
    g = GrammarReviser()
    e = g.edits('shot 3: New prompt.\nreplace "red coat" with "blue coat" in 2, 02-01; reroll 5; '
                "drop keyframe 02-01-k1\ncharacter Mia: attire = a blue coat\ninsert before 1: Opening.\n"
                "move 4 after 6; delete 02-02; cut 3; continue 4; pin keyframe ref-mia-0; reference Mia: /tmp/x.png")
    ops = [x.op for x in e.edits]
    assert ops == ["edit_prompt", "replace_text", "reroll", "drop_keyframe", "edit_character", "insert_shot",
                   "move_shot", "delete_shot", "set_cut", "set_cut", "pin_keyframe", "add_reference"]
    assert e.edits[1].shots == ["2", "02-01"]
    with pytest.raises(ReviseError, match="cannot turn"):
        g.edits("please make it nicer")
    with pytest.raises(ReviseError, match="empty"):
        g.edits("  ;  ")


def test_unknown_targets_are_clear_errors(tmp_path):
    run = render(tmp_path, ALL_CUTS)
    for request, words in [("shot 42: x", "shot 42 does not exist"), ("drop keyframe 09-09-k9", "not in the memory bank"),
                           ('replace "zebra" with "horse"', "appears in no prompt"),
                           ("character Zoe: age = 30", "not in the bible"), ("reference Ada: /nope.png", "not found")]:
        with pytest.raises(Exception, match=words):
            revise_run(run, request, yes)
    assert json.loads((run / "manifest.json").read_text())["version"] == 1


def test_killed_revision_resumes_like_a_render(tmp_path):
    ref_dir, kill_dir = tmp_path / "ref", tmp_path / "kill"
    ref_dir.mkdir()
    kill_dir.mkdir()
    runs = [render(d, ALL_CUTS) for d in (ref_dir, kill_dir)]
    request = f"shot 4: Noon at the fish market in a storm, stalls flapping. {BEN}, holds his hat. Wide shot."
    revise_run(runs[0], request, yes)
    cmd = [sys.executable, str(REPO / "main.py"), "revise", str(runs[1]), request, "--yes", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
        if (runs[1] / "shots/02-02.v2.mp4").exists() or (runs[1] / "shots/02-01.v2.tail").exists():
            break
        time.sleep(0.005)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    m = json.loads((runs[1] / "manifest.json").read_text())
    assert m["version"] == 2, "the kill should come after the commit"
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "resume", str(runs[1]), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = read_video(runs[0] / "film.mp4"), read_video(runs[1] / "film.mp4")
    assert a.shape == b.shape and np.array_equal(a, b)
    assert run_history(runs[1])[1] == 2
