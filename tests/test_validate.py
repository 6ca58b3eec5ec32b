"""Every value a later stage cannot handle is refused by the command line before any work starts: one
line naming the flag, the allowed values and why, exit 2, no run folder (issue 8, section 2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import main
from cli import validate as validation
from cli.validate import UsageError, field_range, run_footprint
from schemas.run import RunSettings

REPO = Path(__file__).resolve().parent.parent
LIGHTHOUSE = REPO / "story" / "examples" / "lighthouse.json"
GARDEN = REPO / "story" / "examples" / "garden_refs.json"
TINY = ["--size", "32x32", "--frames", "9", "--quiet", "--engine", "preview"]
THREE = {"story_name": "Three", "story_overview": "Three shots.", "scenes": [
    {"scene_num": 1, "video_prompts": ["Mia walks on the beach at dawn. Wide shot.", "Mia waves. Close-up.",
                                       "Mia sits down. Medium shot."], "cut": [True, False, True]}]}


@pytest.fixture(autouse=True)
def _no_model_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("OPENAI_", "DAILIES_LLM", "DAILIES_VLM", "DAILIES_MODELS")):
            monkeypatch.delenv(k)


def refused(capsys, argv: list[str], *words: str) -> str:
    """Run the CLI in-process; it must exit 2 with one line naming ``words``."""
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.mark.parametrize("flags, words", [
    (["--max-memory-size", "0"], ["--max-memory-size 0", "from 1 to 64", "MemorySettings.max_size"]),
    (["--max-memory-size", "65"], ["--max-memory-size 65", "from 1 to 64"]),
    (["--seed", "-1"], ["--seed -1", "from 0 to 9223372036854775807"]),
    (["--seed", str(2**63)], [f"--seed {2**63}", "from 0 to 9223372036854775807"]),
    (["--fps", "0"], ["--fps 0", "from 1 to 120"]),
    (["--fps", "100000"], ["--fps 100000", "from 1 to 120", "RenderRequest.fps"]),
    (["--max-retries", "-1"], ["--max-retries -1", "from 0 to 10"]),
    (["--max-retries", "11"], ["--max-retries 11", "from 0 to 10"]),
    (["--frames", "5", "--continuation", "mm2v"], ["--frames 5", "mm2v", "at least 9"]),
    (["--frames", "6"], ["--frames 6", "4n+1"]),
    (["--frames", "1"], ["--frames 1", "from 5 to 1025"]),
    (["--frames", "100001"], ["--frames 100001", "from 5 to 1025"]),
    (["--size", "0x0"], ["--size 0x0", "a multiple of 16 from 16 to 4096"]),
    (["--size", "830x480"], ["--size 830x480", "a multiple of 16"]),
    (["--size", "8192x8192"], ["--size 8192x8192", "from 16 to 4096"]),
    (["--steps", "0"], ["--steps 0", "1 to 1000"]),
    (["--steps", "5000"], ["--steps 5000", "1 to 1000"]),
    (["--clip-checkpoint", "/etc/hostname"], ["--clip-checkpoint /etc/hostname", "not a model checkpoint"]),
    (["--hpsv3", "/etc/hostname"], ["--hpsv3", "needs --hpsv3-base"]),
    (["--engine", "storymem"], ["--engine storymem", "cannot run", "models folder"]),
    (["--models", "/no/such/folder"], ["--models /no/such/folder", "no such folder"]),
    (["--base-url", "ftp://x"], ["--base-url ftp://x", "http(s)"]),
    (["--attention-backend", "warp"], ["--attention-backend warp", "unknown attention backend", "cudnn, fp8"]),
])
def test_out_of_range_values_are_refused_before_the_run_folder(tmp_path, capsys, flags, words):
    out = tmp_path / "run"
    refused(capsys, ["render", str(LIGHTHOUSE), "--out", str(out), "--quiet", "--engine", "preview", *flags], *words)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, words", [
    (["film", "A robot learns to garden", "--shots", "1000"], ["--shots 1000", "3 to 24"]),
    (["film", "A robot learns to garden", "--style", "x" * 200], ["--style", "120"]),
    (["film", "A robot learns to garden", "--seed", "-5"], ["--seed -5"]),
    (["plan", "A robot learns to garden", "--shots", "0", "-o", "{tmp}/story.json"], ["--shots 0"]),
    (["plan", "A robot learns to garden", "-o", "{tmp}"], ["--out", "is a folder"]),
])
def test_other_commands_refuse_before_writing(tmp_path, capsys, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "film":
        argv += ["--out", str(tmp_path / "run")]
    refused(capsys, argv, *words)
    assert list(tmp_path.iterdir()) == []


def test_limits_come_from_the_contracts_not_a_copy():
    # The range text is read from the pydantic fields: change the contract, the message follows.
    assert field_range([RunSettings], "max_retries")[0] == "an integer from 0 to 10"
    from schemas.render import RenderRequest

    assert field_range([RunSettings, RenderRequest], "fps") == (
        "an integer from 1 to 120", ["RunSettings.fps", "RenderRequest.fps"])


def test_mm2v_with_enough_frames_and_mi2v_with_five_are_accepted(tmp_path):
    for flags in (["--frames", "9", "--continuation", "mm2v"], ["--frames", "5", "--continuation", "mi2v"]):
        args = main.parser().parse_args(["render", str(LIGHTHOUSE), "--out", str(tmp_path / "r"), *flags])
        ctx = validation.validate(args)
        assert ctx.settings.num_frames == int(flags[1])
    assert not (tmp_path / "r").exists()


def test_the_storymem_engine_refuses_a_request_it_cannot_render_as_an_engine_error():
    from engine.base import SettingsError
    from engine.storymem.limits import check_request, check_shape
    from schemas.render import RenderRequest

    request = RenderRequest(shot_id="01-02", prompt="x", mode="mm2v", motion_frames=["a"] * 5, seed=1, num_frames=9)
    with pytest.raises(SettingsError) as err:
        check_request(request, variant="mi2v", steps=40)
    assert err.value.argument == "mode" and "MM2V LoRA" in str(err.value)
    with pytest.raises(SettingsError) as err:
        check_shape(480, 832, 5, num_conditioning=5)
    assert err.value.argument == "num_frames"


def test_a_request_with_nothing_left_to_generate_cannot_be_built():
    from pydantic import ValidationError

    from schemas.render import RenderRequest

    with pytest.raises(ValidationError, match="at least 9"):
        RenderRequest(shot_id="01-02", prompt="x", mode="mm2v", motion_frames=["a"] * 5, seed=1, num_frames=5)


def test_largest_seed_renders_every_shot(tmp_path, capsys):
    story = tmp_path / "three.json"
    story.write_text(json.dumps(THREE))
    out = tmp_path / "run"
    assert main.main(["render", str(story), "--out", str(out), "--seed", str(2**63 - 1), *TINY]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert [s["seed"] for s in m["shots"]] == [2**63 - 1, 0, 1]  # seed + k, wrapped below 2**63


def test_blank_model_name_runs_the_embedded_default(tmp_path):
    story = tmp_path / "three.json"
    story.write_text(json.dumps(THREE))
    assert main.main(["render", str(story), "--out", str(tmp_path / "run"), "--vlm-model", " ", *TINY]) == 0
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["backends"]["critic"]["name"] == "heuristic"


def test_unreachable_endpoints_are_refused_before_the_first_shot(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    refused(capsys, ["render", str(LIGHTHOUSE), "--out", str(tmp_path / "r"), "--vlm-model", "qwen-vl",
                     "--base-url", url, *TINY], "--vlm-model qwen-vl", "cannot reach", f"127.0.0.1:{port}")
    refused(capsys, ["film", "A robot learns to garden", "--out", str(tmp_path / "f"), "--llm-model", "qwen",
                     "--base-url", url, *TINY], "--llm-model qwen", "cannot reach")
    refused(capsys, ["plan", "A robot learns to garden", "-o", str(tmp_path / "s.json"), "--llm-model", "qwen",
                     "--base-url", url], "--llm-model qwen", "cannot reach")
    assert list(tmp_path.iterdir()) == []


def test_missing_ffmpeg_is_refused_before_the_run_folder(tmp_path):
    env = {**os.environ, "IMAGEIO_FFMPEG_EXE": str(tmp_path / "no-ffmpeg")}
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(LIGHTHOUSE), "--out", str(tmp_path / "r"),
                        *TINY], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "ffmpeg" in r.stderr and "IMAGEIO_FFMPEG_EXE" in r.stderr
    assert not (tmp_path / "r").exists()


def test_too_little_disk_is_refused(tmp_path, capsys, monkeypatch):
    real = shutil.disk_usage

    def tiny(path):
        return real(path)._replace(free=10_000_000)

    monkeypatch.setattr(validation.shutil, "disk_usage", tiny)
    err = refused(capsys, ["render", str(LIGHTHOUSE), "--out", str(tmp_path / "r"), "--quiet", "--engine", "preview"],
                  "--out", "GB free", "8 shots at 832x480x81")
    assert "0.01 GB free" in err
    assert not (tmp_path / "r").exists()


def test_footprint_bounds_a_measured_run():
    # 8 preview shots at 832x480x81 took 17 MB (docs/BENCHMARKS.md); the bound must be above it.
    assert run_footprint(RunSettings(), 8) > 17_000_000


def test_shot_too_large_for_memory_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(validation, "_available_memory", lambda: 100_000_000)
    refused(capsys, ["render", str(LIGHTHOUSE), "--out", str(tmp_path / "r"), "--quiet", "--engine", "preview"],
            "--size 832x480", "memory")
    assert not (tmp_path / "r").exists()


def test_missing_reference_image_is_refused_before_the_run_folder(tmp_path, capsys):
    shutil.copy(GARDEN, tmp_path / "garden.json")
    bible = json.loads((REPO / "story" / "examples" / "garden_refs.bible.json").read_text())
    bible["characters"][0]["reference_images"] = ["nowhere.png"]
    (tmp_path / "garden.bible.json").write_text(json.dumps(bible))
    before = sorted(p.name for p in tmp_path.iterdir())
    refused(capsys, ["render", str(tmp_path / "garden.json"), "--out", str(tmp_path / "r"), *TINY],
            "reference image nowhere.png", "not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_prompt_that_cannot_carry_its_characters_details_is_refused(tmp_path, capsys):
    long_prompt = "Mia and Rex walk along the beach at dawn. " + "The waves roll in slowly. " * 70
    script = {"story_name": "Long", "story_overview": "Long.", "scenes": [
        {"scene_num": 1, "video_prompts": [long_prompt[:1990]], "cut": [True]}]}
    bible = {"characters": [{"name": n, "appearance": f"a {n[0] * 290}", "attire": f"a {n[1] * 290}",
                             "age": f"{n} " * 70, "style": "calm " * 55} for n in ("Mia", "Rex")],
             "cast": {"01-01": ["Mia", "Rex"]}}
    (tmp_path / "long.json").write_text(json.dumps(script))
    (tmp_path / "long.bible.json").write_text(json.dumps(bible))
    refused(capsys, ["render", str(tmp_path / "long.json"), "--out", str(tmp_path / "r"), *TINY],
            "scene 1, shot 1", "explicit details of Mia, Rex", "more than the 4000")
    assert not (tmp_path / "r").exists()


def test_over_long_injection_never_makes_an_invalid_request():
    from agents.director.requests import shot_prompt
    from schemas.bible import Bible, Character
    from schemas.render import MAX_REQUEST_PROMPT
    from schemas.run import ShotDirectives
    from schemas.script import Shot

    chars = [Character(name=f"C{i}", appearance="a " + "tall " * 59, attire="a " + "red " * 70) for i in range(5)]
    shot = Shot(id="01-01", index=0, scene_num=1, prompt="x" * 1900, cut=True)
    prompt = shot_prompt(shot, ShotDirectives(inject=[c.name for c in chars]), Bible(characters=chars))
    assert len(prompt) <= MAX_REQUEST_PROMPT and "C0 (" in prompt


def test_argparse_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(LIGHTHOUSE), "--fps", "abc"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--fps" in r.stderr


def test_usage_error_names_flag_value_and_reason():
    e = UsageError("--seed", -1, "must be at least 0")
    assert str(e) == "--seed -1: must be at least 0"


def test_adding_a_flag_check_is_one_line(tmp_path, monkeypatch):
    """The documented way: a Flag entry calling the stage's own check."""
    def check_gpus(n):
        if n < 1:
            raise ValueError("needs at least 1 GPU")

    monkeypatch.setattr(validation, "FLAGS", [*validation.FLAGS, validation.Flag("--gpus", "gpus", check_gpus)])
    args = main.parser().parse_args(["render", str(LIGHTHOUSE), "--out", str(tmp_path / "r")])
    args.gpus = 0
    with pytest.raises(UsageError, match="--gpus 0: needs at least 1 GPU"):
        validation.validate(args)


# -- the commands of the before-stop hook on ../shared/cases never end in an internal error


HOOK_CASES = [
    ("c03_memory_size/harbour12.json", ["--engine", "preview", "--size", "160x96", "--frames", "9",
                                        "--max-memory-size", "0"], 2),
    ("c07_short_frames/lighthouse.json", ["--engine", "preview", "--size", "160x96", "--frames", "5",
                                          "--continuation", "mm2v"], 2),
    ("c02_extra_keys/storymem_story.json", ["--engine", "preview", "--size", "160x96", "--frames", "9"], 0),
]


@pytest.mark.slow
@pytest.mark.parametrize("path, flags, code", HOOK_CASES)
def test_shared_cases_of_the_hook_end_cleanly(shared_case, tmp_path, path, flags, code):
    case = shared_case(path.split("/")[0]) / path.split("/")[1]
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(case), *flags, "--out",
                        str(tmp_path / "r")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == code, r.stderr
    assert "internal error" not in r.stderr.lower() and "Traceback" not in r.stderr
    assert (tmp_path / "r").exists() == (code == 0)


def test_an_empty_revision_request_is_refused(tmp_path, capsys):
    story = tmp_path / "three.json"
    story.write_text(json.dumps(THREE))
    run = tmp_path / "run"
    assert main.main(["render", str(story), "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    refused(capsys, ["revise", str(run), "", "--yes"], "the request is empty")
    # Past the command line too: an empty request is a revision the reviser refuses, never a render pass.
    from agents.reviser.base import ReviseError
    from agents.runs import revise_run

    with pytest.raises(ReviseError, match="empty"):
        revise_run(run, "", lambda p: True)


def test_attention_backend_without_its_package_is_refused(tmp_path, capsys, monkeypatch):
    from diffusers.models import attention_dispatch

    def missing(backend):
        raise RuntimeError(f"backend '{backend.value}' needs a package that is not installed")

    monkeypatch.setattr(attention_dispatch, "_check_attention_backend_requirements", missing)
    refused(capsys, ["render", str(LIGHTHOUSE), "--out", str(tmp_path / "r"), "--attention-backend", "_native_cudnn",
                     *TINY], "--attention-backend _native_cudnn", "not installed")


def test_scene_numbers_that_would_make_over_long_ids_are_refused(tmp_path, capsys):
    big = {**THREE, "scenes": [{**THREE["scenes"][0], "scene_num": 10**61}]}
    (tmp_path / "big.json").write_text(json.dumps(big))
    refused(capsys, ["render", str(tmp_path / "big.json"), "--out", str(tmp_path / "r"), *TINY],
            "scene_num", "0 to 9999")
    assert not (tmp_path / "r").exists()
    ok = {**THREE, "scenes": [{**THREE["scenes"][0], "scene_num": 9999}]}
    (tmp_path / "ok.json").write_text(json.dumps(ok))
    assert main.main(["render", str(tmp_path / "ok.json"), "--out", str(tmp_path / "r"), *TINY]) == 0
    assert [s["shot_id"] for s in json.loads((tmp_path / "r" / "manifest.json").read_text())["shots"]] == [
        "9999-01", "9999-02", "9999-03"]


def test_a_python_without_the_dependencies_gets_one_line(tmp_path):
    # -S: no site-packages, as when main.py is run with a Python the README's install never touched.
    r = subprocess.run([sys.executable, "-S", str(REPO / "main.py"), "history", str(tmp_path)], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "dependencies are not installed" in r.stderr and "pip install" in r.stderr


def test_a_base_url_with_an_impossible_port_is_refused(tmp_path, capsys):
    # Found by bench/fuzz.py: urlsplit raised ValueError when the port was read (an internal error).
    refused(capsys, ["plan", "A robot learns to garden", "-o", str(tmp_path / "s.json"), "--llm-model", "m",
                     "--base-url", "http://127.0.0.1:99999/v1"], "--base-url", "port outside 0-65535")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["film", "A robot learns to garden", "--style", "a\nb\x1b[31m"],
    ["render", "x\ny\x00.json"],
])
def test_refusals_are_one_printable_line_whatever_the_input_holds(tmp_path, capsys, argv):
    # Found by bench/fuzz.py: a --style with a newline made a two-line error (and escapes reached the terminal).
    err = refused(capsys, [*argv, "--out", str(tmp_path / "r")])
    assert err.isprintable() and "\\n" in err


def test_clip_checkpoint_probe_tells_checkpoints_from_other_files(tmp_path):
    import torch
    from safetensors.torch import save_file

    from engine.base import EngineError
    from engine.clip_features import ClipEmbedder

    torch.save({"w": torch.zeros(2)}, tmp_path / "zip.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    (tmp_path / "junk.bin").write_bytes(b"\x80\x02junk")  # starts like a pickle
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04garbage")  # starts like a zip
    for good in ("zip.pt", "legacy.pt", "w.safetensors"):
        assert ClipEmbedder.check_checkpoint(tmp_path / good)[0] == tmp_path / good
    for bad in ("junk.bin", "broken.zip"):
        with pytest.raises(EngineError, match="not a model checkpoint"):
            ClipEmbedder.check_checkpoint(tmp_path / bad)
    with pytest.raises(EngineError, match="not an open_clip ViT-B-32 checkpoint") as err:
        ClipEmbedder(tmp_path / "zip.pt")  # a checkpoint, of something else: one line, not torch's text
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("size", [(16, 16), (48, 16), (16, 4096)])
@pytest.mark.parametrize("setting", ["a kitchen", "a city street", "the beach"])
def test_the_preview_engine_draws_the_sizes_the_contract_allows(size, setting):
    # 16x16 crashed (fixed-pixel insets drew inverted rectangles) for interiors, cities and water.
    from engine.preview import PreviewEngine
    from schemas.render import RenderRequest

    w, h = size
    request = RenderRequest(shot_id="01-01", prompt=f"Mia stands in {setting} at night. Wide shot, slow pan right.",
                            mode="t2v", seed=3, width=w, height=h, num_frames=5)
    assert PreviewEngine().render_shot(request).shape == (5, h, w, 3)
