"""Revisions take any prompt text (the command grammar never cuts the user's text), and `replace`
keeps the matched text's capitals and lists every occurrence it changed."""

from __future__ import annotations

import json
import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agents.director.edits import apply_edits
from agents.reviser.base import ReviseError
from agents.reviser.grammar import GrammarReviser
from schemas.bible import Bible
from schemas.edit import (
    DeleteShot,
    EditCharacter,
    EditPrompt,
    InsertShot,
    MoveShot,
    ReplaceText,
    Reroll,
    SetCut,
)
from schemas.run import ShotState
from schemas.script import StoryScript

G = GrammarReviser()

LIGHTHOUSE_SHOT_2 = ("Heavy rain lashes the lighthouse lantern room; Elias polishes the lens as water streams down "
                     "the glass. Medium shot.")


def test_a_prompt_with_a_semicolon_is_one_prompt():
    e = G.edits(f"shot 2: {LIGHTHOUSE_SHOT_2}").edits
    assert e == [EditPrompt(shot="2", prompt=LIGHTHOUSE_SHOT_2)]


def test_every_st_bench_prompt_can_be_set_and_inserted(st_bench_dir):
    prompts = [p for f in sorted(st_bench_dir.glob("*.json"))
               for s in json.loads(f.read_text(encoding="utf-8"))["scenes"] for p in s["video_prompts"]]
    assert len(prompts) > 100 and sum(";" in p for p in prompts) > 10
    for p in prompts:
        request = f"reroll 1; delete 2\nshot 3: {p}\ninsert after 02-01 continuing: {p}"
        assert G.edits(request).edits == [
            Reroll(shot="1"), DeleteShot(shot="2"), EditPrompt(shot="3", prompt=p.strip()),
            InsertShot(anchor="02-01", where="after", prompt=p.strip(), cut=False),
        ]


# -- generated prompt texts -------------------------------------------------------------------
TRICKY = [
    *string.punctuation, "“", "”", "‘", "’", "«", "»", "„", "「", "」", "；", "：", "…", "—", "–", "·", "¿", "¡",
    "🐋", "🌊⛈️", "👩🏽‍🚀", "🏳️‍🌈", "灯塔守护者擦拭镜头", "Маяк в бурю", "منارة في العاصفة", "लाइटहाउस", "ليلة",
    "; reroll 5", "; shot 2: x", "; delete 3;", '" with "', "shot 4:", "\t", "\u2028", "\x85", "  ",
    'replace "a" with "b"', "insert after 3: y", ";;", ":", "=",
]
fragment = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12),
)
prompt_text = (st.lists(fragment, min_size=1, max_size=24).map("".join)
               .filter(lambda t: 0 < len(t.strip()) <= 300))
"""Any one-line text: every punctuation mark, quotes, non-Latin scripts, emoji, command look-alikes."""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=prompt_text, before=st.sampled_from(["", "reroll 2; ", "delete 4;", "move 5 after 2 ; cut 3;"]))
def test_free_text_is_the_users_whatever_it_holds(text, before):
    head = G.edits(before + "reroll 9").edits[:-1] if before else []
    cases = [
        (f"shot 3: {text}", EditPrompt(shot="3", prompt=text.strip())),
        (f"insert after 3: {text}", InsertShot(anchor="3", where="after", prompt=text.strip())),
        (f"insert before 01-02 continuing:{text}", InsertShot(anchor="01-02", where="before", prompt=text.strip(),
                                                              cut=False)),
        (f"character Elias: attire = {text}", EditCharacter(name="Elias", field="attire", value=text.strip())),
    ]
    for command, edit in cases:
        got = G.edits(f"{before}{command}\ncontinue 4").edits
        assert got == [*head, edit, SetCut(shot="4", cut=False)], command


quoted_text = (st.lists(fragment, min_size=1, max_size=10).map("".join)
               .filter(lambda t: 0 < len(t) <= 300 and t.strip() == t))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=quoted_text, new=quoted_text)
def test_replace_values_hold_any_text_but_their_own_delimiters(old, new):
    # The one thing a quoted value cannot hold is what ends it: a quote followed by `with`/`by` (in
    # OLD), or by `;`, `in <shots>` or the end of the line (in NEW).
    quote = "[\"“”'‘’]"
    assume(not re.search(quote + r"\s+(with|by)\s+" + quote, old))
    assume(not re.search(quote + r"(\s*;|\s+in\s|\s*$)", new))
    request = f'replace "{old}" with "{new}"; reroll 2\ndelete 3'
    assert G.edits(request).edits == [ReplaceText(old=old, new=new), Reroll(shot="2"), DeleteShot(shot="3")]


def test_commands_still_separate_where_no_free_text_can_be():
    e = G.edits('reroll 2; replace "red coat" with "blue coat" in 2, 02-01; move 4 after 6;delete 02-02 ;\n'
                "shot 3: A; B.\n"
                "character Mia: name = Mía; la capitana\n"
                "reference Mia: refs/mia;1.png").edits
    assert [x.op for x in e] == ["reroll", "replace_text", "move_shot", "delete_shot", "edit_prompt",
                                 "edit_character", "add_reference"]
    assert e[1].shots == ["2", "02-01"] and e[4].prompt == "A; B." and e[5].value == "Mía; la capitana"
    assert e[6].image == "refs/mia;1.png"
    assert e[2] == MoveShot(shot="4", where="after", anchor="6")


def test_a_command_after_a_prompt_on_the_same_line_is_text_and_the_proposal_says_so():
    e = G.edits("shot 3: Rain on the glass.; reroll 5")
    assert e.edits == [EditPrompt(shot="3", prompt="Rain on the glass.; reroll 5")]
    assert "'; reroll 5'" in e.summary and "own line" in e.summary


@pytest.mark.parametrize("request_, words", [
    ("please make it nicer", "cannot turn `please make it nicer`"),
    ("reroll 2; make it nicer", "cannot turn `make it nicer`"),
    ("shot 3:   ", "shot 3:"),
    ("  ;  \n ", "empty"),
    ("reroll 1;" * 65, "at most 64"),
])
def test_unreadable_requests_name_the_command(request_, words):
    with pytest.raises(ReviseError, match=words):
        G.edits(request_)


# -- replace keeps the matched text's capitals --------------------------------------------------
def _film(prompts: list[str]) -> tuple[StoryScript, Bible, list[ShotState]]:
    script = StoryScript.model_validate({"story_name": "t", "story_overview": "o", "scenes": [
        {"scene_num": 1, "video_prompts": prompts, "cut": [True] * len(prompts)}]})
    shots = [ShotState(shot_id=s.id, index=s.index, seed_base=s.index) for s in script.shots()]
    return script, Bible(), shots


@pytest.mark.parametrize("text, old, new, expected", [
    ("Dawn over a rocky island.", "dawn", "stormy dusk", "Stormy dusk over a rocky island."),
    ("Cold light at dawn. DAWN again.", "dawn", "stormy dusk", "Cold light at stormy dusk. STORMY DUSK again."),
    ("Dawn, dawn, DAWN.", "DAWN", "stormy Dusk", "Stormy Dusk, stormy Dusk, STORMY DUSK."),
    ("the whale sings", "the whale", "Moby Dick", "Moby Dick sings"),      # the user's own capitals stay
    ("A gull. a gull.", "a gull", "the heron", "The heron. the heron."),
    ("Élan at ÉTÉ", "été", "hiver", "Élan at HIVER"),
    ("Über alles", "über", "öl", "Öl alles"),
    ("Ǆungla", "ǆungla", "ǆemper", "ǅemper"),                              # a title-case letter
])
def test_replace_keeps_the_matched_capitals(text, old, new, expected):
    script, bible, shots = _film([text, "unrelated"])
    draft = apply_edits(script, bible, shots, set(), [ReplaceText(old=old, new=new)])
    assert draft.script.shots()[0].prompt == expected


def test_replace_lists_every_occurrence_per_shot():
    script, bible, shots = _film(["Dawn over the island; the dawn wind.", "Noon.", "DAWN breaks."])
    bible = Bible(characters=[{"name": "Elias", "appearance": "a man lit by dawn", "attire": "a coat"}])
    draft = apply_edits(script, bible, shots, set(), [ReplaceText(old="dawn", new="stormy dusk")])
    got = [(r.where, r.old, r.new) for r in draft.replacements]
    assert got == [("01-01", "Dawn", "Stormy dusk"), ("01-01", "dawn", "stormy dusk"),
                   ("01-03", "DAWN", "STORMY DUSK"), ("Elias.appearance", "dawn", "stormy dusk")]
    assert "Dawn over the island" in draft.replacements[0].before
    assert "Stormy dusk over the island" in draft.replacements[0].after
    # Limited to shots: only those, and the bible is left alone.
    draft = apply_edits(script, bible, shots, set(), [ReplaceText(old="dawn", new="dusk", shots=["3"])])
    assert [(r.where, r.new) for r in draft.replacements] == [("01-03", "DUSK")]


def test_the_proposal_lists_each_replaced_occurrence_and_the_film_keeps_capitals(tmp_path):
    import subprocess
    import sys

    from agents.runs import revise_run
    from tests.test_revision import ALL_CUTS, REPO, render

    run = render(tmp_path, ALL_CUTS)
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "revise", str(run), 'replace "dawn" with "stormy dusk"',
                        "--quiet"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "Replaced (1 occurrence)" in r.stdout
    assert "01-01: 'Dawn' -> 'Stormy dusk'   Stormy dusk over a quiet harbour" in r.stdout
    proposal, approved, m = revise_run(run, 'replace "HARBOUR" with "bay"', lambda p: True)
    assert [(x["where"], x["old"], x["new"]) for x in proposal["replacements"]] == [
        ("01-01", "harbour", "bay"), ("03-03", "harbour", "bay")]
    script = json.loads((run / "script.json").read_text())
    assert script["scenes"][0]["video_prompts"][0].startswith("Dawn over a quiet bay, boats rocking.")
