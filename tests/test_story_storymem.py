"""Scripts that StoryMem runs, dailies runs (issue 8, section 3): JSON5, keys of other tools left out with a
notice (``--strict`` refuses them), explicit character details written once, the LoRA as .safetensors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import main
from schemas.bible import Character
from story.details import has_details, inject_details, missing_details
from story.io import ScriptError, load_script, read_script
from tests.strategies import to_json5

EXTRA_KEYS = {
    "story_name": "lullaby", "story_overview": "A fox cub falls asleep under the stars.",
    "scenes": [
        {"scene_num": 1, "lyric_line": "Little star", "video_prompts": ["Pip, a small fox cub, curls up on a hill."],
         "cut": [True], "subtitle_text": "Little star"},
        {"scene_num": 2, "lyric_line": "Moon boat", "video_prompts": ["A crescent moon rocks above Pip."],
         "first_frame_prompt": ["A crescent moon."], "cut": [True], "subtitle_text": "Moon boat"},
    ],
    "music": {"bpm": 60},
}
TINY = ["--size", "32x32", "--frames", "5", "--quiet", "--engine", "preview"]


def test_unknown_keys_are_left_out_and_named(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(EXTRA_KEYS))
    script, ignored = read_script(path, strict=False)
    assert ignored == ["music", "scenes[].lyric_line (scenes 1, 2)", "scenes[].subtitle_text (scenes 1, 2)"]
    assert set(script.to_json_dict()) == {"story_name", "story_overview", "scenes"}
    assert all(set(sc) <= {"scene_num", "video_prompts", "first_frame_prompt", "cut"}
               for sc in script.to_json_dict()["scenes"])
    with pytest.raises(ScriptError, match="lyric_line: unknown field"):
        read_script(path, strict=True)
    with pytest.raises(ScriptError, match="unknown field"):
        load_script(path)  # the programmatic default (and a run's own script.json) stays strict


def test_json5_is_read_unless_strict(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(to_json5(EXTRA_KEYS))
    assert path.read_text().startswith("//") and re.search(r",\n\s*\]", path.read_text())  # comment, trailing comma
    script, _ = read_script(path, strict=False)
    assert [s.id for s in script.shots()] == ["01-01", "02-01"]
    with pytest.raises(ScriptError, match="is not valid JSON .*it is JSON5.*drop --strict"):
        read_script(path, strict=True)
    path.write_text("{ this is neither")
    with pytest.raises(ScriptError, match=r"not valid JSON \(nor JSON5\) \(line 1"):
        read_script(path, strict=False)


def test_a_misspelt_field_says_which_keys_were_ignored(tmp_path):
    bad = json.loads(json.dumps(EXTRA_KEYS))
    bad["scenes"][0]["video_prompt"] = bad["scenes"][0].pop("video_prompts")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ScriptError) as err:
        read_script(path, strict=False)
    assert "video_prompts: field is missing" in str(err.value) and "scenes[].video_prompt (scene 1)" in str(err.value)


def test_render_notes_the_ignored_keys_and_strict_refuses(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(to_json5(EXTRA_KEYS))
    assert main.main(["render", str(path), "--out", str(tmp_path / "run"), *TINY]) == 0
    out = capsys.readouterr().out
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    notice = next(n for n in m["notices"] if "ignored keys" in n)
    assert "scenes[].lyric_line (scenes 1, 2)" in notice and "--strict" in notice
    assert "ignored keys that are not ST-Bench fields" in out
    assert set(json.loads((tmp_path / "run" / "script.json").read_text())) == {"story_name", "story_overview", "scenes"}
    assert main.main(["render", str(path), "--out", str(tmp_path / "strict"), "--strict", *TINY]) == 2
    assert "JSON5" in capsys.readouterr().err and not (tmp_path / "strict").exists()


@pytest.mark.parametrize("name", ["storymem_story.json", "storymem_story_json5.json"])
def test_the_reported_storymem_scripts_load(shared_case, name):
    path = shared_case("c02_extra_keys") / name
    script, ignored = read_script(path, strict=False)
    assert len(script.shots()) == 4
    assert ignored == (["scenes[].lyric_line (scenes 1, 2, 3, 4)", "scenes[].subtitle_text (scenes 1, 2, 3, 4)"]
                       if name == "storymem_story.json" else [])
    with pytest.raises(ScriptError):
        read_script(path, strict=True)


def test_a_continuity_anchor_list_names_the_cast_and_is_no_character(shared_case):
    # Reported: the c02 case inferred "Continuity" as a character, Pip's fox as a second one ("Fox"), and gave
    # every character Pip's cream scarf.
    from story.cast import infer_bible

    script, _ = read_script(shared_case("c02_extra_keys") / "storymem_story_json5.json", strict=False)
    bible = infer_bible(script)
    chars = {c.name: c for c in bible.characters}
    assert set(chars) == {"Pip", "Owl"}
    assert chars["Pip"].appearance == "a small fox cub" and chars["Pip"].attire == "a cream scarf"
    assert "owl" in chars["Owl"].appearance and chars["Owl"].attire == ""
    assert bible.cast["02-01"] == ["Pip"] and set(bible.cast["03-01"]) == {"Pip", "Owl"}


# -- explicit details, once


KAI = Character(name="Kai", appearance="a slim young man with short black hair",
                attire="a red jacket with a yellow dragon embroidered on the back and dark jeans", age="in his 20s")
DESCRIBED = ("Kai, a slim young man in his 20s with short black hair, wearing a red jacket with a yellow dragon "
             "embroidered on the back and dark jeans, buys a skewer at a food stall. Medium shot.")


def test_a_description_in_the_prompts_own_words_counts():
    assert has_details(DESCRIBED, KAI)
    assert missing_details(DESCRIBED, [KAI]) == []
    assert inject_details(DESCRIBED, [KAI], cast=[KAI]) == DESCRIBED
    # Reordered and with words between: still the same description.
    assert has_details("Kai, with short black hair, a young slim man, in a red jacket with a yellow dragon "
                       "embroidered on the back and dark jeans, waves.", KAI)
    # A different look is not: the details are injected, once.
    other = "Kai, a slim young man with long blond hair, wearing a red jacket, waves."
    injected = inject_details(other, [KAI])
    assert not has_details(other, KAI) and injected.count(KAI.attire) == 1 and has_details(injected, KAI)


def _refs_story(root: Path) -> Path:
    """A reference-image case like ../shared/cases/c04_refs_3view: prompts already describe the character."""
    (root / "refs").mkdir()
    for view, colour in (("front", (200, 30, 30)), ("side", (190, 40, 30)), ("back", (180, 30, 40))):
        Image.fromarray(np.full((64, 48, 3), colour, np.uint8)).save(root / "refs" / f"kai_{view}.png")
    script = {"story_name": "Kai", "story_overview": "Kai walks through a night market.", "scenes": [
        {"scene_num": 1, "video_prompts": [DESCRIBED, DESCRIBED.replace("buys a skewer", "turns away")],
         "cut": [True, True]}]}
    bible = {"characters": [{**KAI.model_dump(), "reference_images": [f"refs/kai_{v}.png" for v in ("front", "side", "back")]}],
             "cast": {"01-01": ["Kai"], "01-02": ["Kai"]}}
    (root / "walk.json").write_text(json.dumps(script))
    (root / "walk.bible.json").write_text(json.dumps(bible))
    return root / "walk.json"


def _details_written_once(run: Path, character: Character) -> None:
    m = json.loads((run / "manifest.json").read_text())
    for shot in m["shots"]:
        assert shot["prompt"].count(character.attire) == 1, shot["prompt"]
        findings = [f for v in shot["verdicts"] for f in v.get("findings", []) if f["check"] == "explicit_details"]
        assert not [f for f in findings if character.name in f["message"]], findings


def test_reference_image_character_is_described_once(tmp_path):
    story = _refs_story(tmp_path)
    assert main.main(["render", str(story), "--out", str(tmp_path / "run"), *TINY]) == 0
    _details_written_once(tmp_path / "run", KAI)


@pytest.mark.slow
def test_the_reported_reference_case_is_described_once(shared_case, tmp_path):
    case = shared_case("c04_refs_3view")
    assert main.main(["render", str(case / "night_walk.json"), "--out", str(tmp_path / "run"), *TINY]) == 0
    bible = json.loads((case / "night_walk.bible.json").read_text())
    _details_written_once(tmp_path / "run", Character(**bible["characters"][0]))
