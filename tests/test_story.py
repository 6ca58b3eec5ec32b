"""The contract: ST-Bench scripts load, dump back unchanged, and every rule violation is reported
with the file, scene, shot and rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import Bible, Character, StoryScript
from story.cast import infer_bible
from story.details import has_details, inject_details, missing_details
from story.io import ScriptError, bible_path_for, load_bible, load_script

EXAMPLES = Path(__file__).resolve().parent.parent / "story" / "examples"


def test_all_st_bench_scripts_load_and_round_trip(st_bench_dir):
    files = sorted(st_bench_dir.glob("*.json"))
    assert len(files) == 22
    for f in files:
        raw = json.loads(f.read_text(encoding="utf-8"))
        script = load_script(f)
        assert script.to_json_dict() == raw, f.name
        shots = script.shots()
        assert 7 <= len(shots) <= 12
        assert shots[0].cut is True
        assert len({s.id for s in shots}) == len(shots)


def _write(tmp_path: Path, data, name="story.json") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def _good() -> dict:
    return {
        "story_name": "t",
        "story_overview": "o",
        "scenes": [
            {"scene_num": 1, "video_prompts": ["a", "b"], "cut": [True, False]},
            {"scene_num": 2, "video_prompts": ["c"], "cut": [True]},
        ],
    }


def test_older_per_scene_cut_form_is_normalised(tmp_path):
    data = _good()
    data["scenes"][0]["cut"] = True
    data["scenes"][1]["cut"] = False
    script = load_script(_write(tmp_path, data))
    assert script.scenes[0].cut == [True, True]
    assert script.scenes[1].cut == [False]
    assert [s.cut for s in script.shots()] == [True, True, False]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["scenes"][0].update(cut=[True]), ["story.json", "scene 1", "list lengths are equal"]),
        (lambda d: d["scenes"][0].update(cut=[False, False]), ["scene 1, shot 1", "the first shot is a cut"]),
        (lambda d: d["scenes"][1].update(scene_num=1), ["scene 1", "scene numbers increase"]),
        (lambda d: d["scenes"][1]["video_prompts"].__setitem__(0, "   "), ["scene 2", "shot 1", "prompts are non-empty"]),
        (lambda d: d["scenes"][1]["video_prompts"].__setitem__(0, "x" * 2001), ["scene 2", "shot 1", "at most 2000"]),
        (lambda d: d.update(scenes=[]), ["at least one shot"]),
        (lambda d: d["scenes"][0].update(video_prompts=[], cut=[]), ["scene 1", "at least one shot"]),
        (lambda d: d.pop("story_overview"), ["story_overview", "missing"]),
        (lambda d: d.update(extra="x"), ["extra", "unknown field"]),
        (lambda d: d["scenes"][0].update(first_frame_prompt=["only one"]), ["scene 1", "first_frame_prompt", "lengths"]),
    ],
)
def test_each_violation_names_file_scene_shot_and_rule(tmp_path, mutate, expected):
    data = _good()
    mutate(data)
    with pytest.raises(ScriptError) as e:
        load_script(_write(tmp_path, data))
    msg = str(e.value)
    assert "\n" not in msg
    for part in expected:
        assert part in msg, (part, msg)
    assert msg.count(expected[-1]) == 1, f"one violation, said once: {msg}"
    assert len(set(e.value.violations)) == len(e.value.violations), e.value.violations


def test_counts_in_violations_are_pluralised(tmp_path):
    data = _good()
    data["scenes"][0].update(cut=[True])  # scene 1 has 2 prompts
    with pytest.raises(ScriptError) as e:
        load_script(_write(tmp_path, data))
    assert "cut has 1 entry but" in str(e.value), str(e.value)


def test_several_violations_are_all_reported(tmp_path):
    data = _good()
    data["scenes"][0]["video_prompts"] = ["", "x" * 2500]
    data["scenes"][1]["video_prompts"] = [""]
    with pytest.raises(ScriptError) as e:
        load_script(_write(tmp_path, data))
    v = e.value.violations
    assert any("scene 1" in x and "shot 1" in x for x in v)
    assert any("scene 1" in x and "shot 2" in x for x in v)
    assert any("scene 2" in x and "shot 1" in x for x in v)


@pytest.mark.parametrize("text, expected", [
    ("{not json", "not valid JSON (line 1"),
    ("[1, 2]", "must be a JSON object"),
    ("", "not valid JSON"),
])
def test_unparseable_files(tmp_path, text, expected):
    with pytest.raises(ScriptError) as e:
        load_script(_write(tmp_path, text))
    assert expected in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ScriptError, match="not found"):
        load_script(tmp_path / "nope.json")
    with pytest.raises(ScriptError, match="is a folder"):
        load_script(tmp_path)


def test_examples_have_valid_bibles_and_cover_the_cases():
    scripts = {p.stem: p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".bible.json")}
    assert len(scripts) >= 3
    saw_continuation = saw_many = saw_refs = False
    for name, path in scripts.items():
        script = load_script(path)
        bible = load_bible(bible_path_for(path), script)
        assert set(bible.cast) == {s.id for s in script.shots()}
        saw_continuation |= any(not s.cut for s in script.shots())
        saw_many |= len(bible.characters) >= 3
        for c in bible.characters:
            for ref in c.reference_images:
                assert (path.parent / ref).exists()
                saw_refs = True
    assert saw_continuation and saw_many and saw_refs


def test_bible_rejects_unknown_cast_and_duplicate_names():
    c = Character(name="Mia", attire="a red coat")
    with pytest.raises(ValueError, match="not in the bible"):
        Bible(characters=[c], cast={"01-01": ["Bob"]})
    with pytest.raises(ValueError, match="appears twice"):
        Bible(characters=[c, Character(name="mia")])


def test_details_detection_and_injection():
    mia = Character(name="Mia", appearance="a tall woman with short silver hair", attire="a red coat")
    bob = Character(name="Bob", appearance="a small boy", attire="", aliases=["the boy"])
    prompt = "Mia walks to the boy. Wide shot."
    assert [c.name for c in missing_details(prompt, [mia, bob])] == ["Mia", "Bob"]
    out = inject_details(prompt, [mia, bob])
    assert out.startswith("Mia (a tall woman with short silver hair, wearing a red coat) walks to the boy (a small boy)")
    assert has_details(out, mia) and has_details(out, bob)
    assert inject_details(out, [mia, bob]) == out  # idempotent
    # A cast character the prompt never names is introduced.
    assert inject_details("Rain falls.", [mia], cast=[mia]).startswith("Mia (a tall woman")
    # Word boundaries: "Miami" is not Mia.
    assert missing_details("A postcard from Miami.", [mia]) == []


def test_bible_inference_on_st_bench(st_bench_dir):
    script = load_script(st_bench_dir / "black.json")
    bible = infer_bible(script)
    names = [c.name for c in bible.characters]
    assert "Man" in names and "Girl" in names
    man = bible.character("Man")
    assert "gray hoodie" in man.attire and man.age == "in his 30s"
    assert set(bible.cast) == {s.id for s in script.shots()}
    assert all(bible.cast[s.id] for s in script.shots()[:2])  # "He stands by the window" keeps the man
    # Every inferred bible over all scripts validates.
    for f in st_bench_dir.glob("*.json"):
        Bible.model_validate(infer_bible(load_script(f)).model_dump())


def test_script_model_is_strict():
    with pytest.raises(ValueError):
        StoryScript.model_validate({"story_name": "a", "story_overview": "b", "scenes": [
            {"scene_num": 1, "video_prompts": ["p"], "cut": [True], "bible": {}}]})


def test_counts_read_right_in_the_singular_and_plural():
    from story.words import count, plural

    assert count(1, "character") == "1 character" and count(2, "character") == "2 characters"
    assert count(0, "shot") == "0 shots" and count(1, "retry") == "1 retry" and count(3, "retry") == "3 retries"
    assert count(2, "day") == "2 days" and count(2, "match") == "2 matches" and count(2.0, "GPU") == "2 GPUs"
    assert count(1.0, "CPU") == "1 CPU" and plural(5, "critic retry", "critic retries") == "critic retries"
