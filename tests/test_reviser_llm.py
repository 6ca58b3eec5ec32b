"""The LLM reviser against the scripted server (fault injection and exact checks of what is sent);
against a real model it runs in tests/test_local_llm.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agents.director.rundir import RunDir
from agents.llm import LLMClient, LLMConfig
from agents.reviser.base import FilmContext
from agents.reviser.llm import LLMReviser, edit_schema, film_summary
from engine.memory import MemoryBank
from tests.chat_server import ChatServer, reply
from tests.test_revision import ADA, ALL_CUTS, render

REPO = Path(__file__).resolve().parent.parent


def context(run: Path) -> FilmContext:
    r = RunDir.open(run)
    bank = MemoryBank.load(run)
    return FilmContext(script=r.script(), bible=r.bible(), keyframes=[k.id for k in bank.keyframes if not k.dropped])


def test_the_film_fits_the_window_and_the_schema_names_only_its_shots(tmp_path):
    ctx = context(render(tmp_path, ALL_CUTS))
    ids = [s.id for s in ctx.script.shots()]
    answer = {"edits": [{"op": "replace_text", "old": "Night falls", "new": "Rain falls", "shots": ["03-03"]}],
              "summary": "The night shot is rainy."}
    with ChatServer([reply(answer)], props_context=1024) as srv:
        reviser = LLMReviser(LLMClient(LLMConfig(model="m", base_url=srv.url), sleep=lambda s: None))
        edits = reviser.edits("make the night scenes rainy", ctx)
        [req] = srv.chat_requests
    assert edits.edits[0].op == "replace_text" and edits.edits[0].shots == ["03-03"]
    # the request fits the 1,024-token window (the server refuses anything larger)
    assert len(json.dumps(req.messages)) // 4 + req.body["max_tokens"] <= 1024
    user = req.messages[1]["content"]
    assert "03-03 scene 3, cut: Night falls over the harbour" in user and '"make the night scenes rainy"' in user
    assert ADA not in user and "Ada: a young woman with short red hair" in user  # details folded into the bible
    schema = req.response_format["json_schema"]["schema"]
    assert schema["$defs"]["EditPrompt"]["properties"]["shot"]["enum"] == ids
    assert schema["$defs"]["EditCharacter"]["properties"]["name"]["enum"] == ["Ada", "Ben"]
    branches = {b["$ref"].rsplit("/", 1)[-1] for b in schema["properties"]["edits"]["items"]["anyOf"]}
    assert "AddReference" not in branches and "EditPrompt" in branches  # no image named in the request
    assert schema["$defs"]["PinKeyframe"]["properties"]["keyframe"]["enum"] == ctx.keyframes


def test_film_summary_shortens_prompts_evenly_to_the_room_left(tmp_path):
    ctx = context(render(tmp_path, ALL_CUTS))
    full = film_summary(ctx, None)
    short = film_summary(ctx, 900)
    assert len(full.splitlines()) == len(short.splitlines()) == 8
    assert len(short) <= 900 + 8 * 4 and len(short) < len(full)
    assert all(line.endswith("...") or len(line) < 150 for line in short.splitlines())
    no_keyframes = edit_schema(FilmContext(script=ctx.script, bible=ctx.bible, keyframes=[]), "x")
    branches = {b["$ref"].rsplit("/", 1)[-1] for b in no_keyframes["properties"]["edits"]["items"]["anyOf"]}
    assert not branches & {"PinKeyframe", "UnpinKeyframe", "DropKeyframe"} and "Reroll" in branches


def test_a_reviser_that_fails_explains_in_one_line_and_changes_nothing(tmp_path):
    run = render(tmp_path, ALL_CUTS)
    def files() -> dict[str, bytes]:  # the graph's checkpoint database is the director's, not the film's
        return {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*")
                if p.is_file() and not p.name.startswith(("checkpoints.sqlite", ".lock"))}

    before = files()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DAILIES_LLM", "DAILIES_VLM"))}
    with ChatServer([reply("I am not sure what you mean.")] * 8, models=["tiny"]) as srv:
        r = subprocess.run([sys.executable, str(REPO / "main.py"), "revise", str(run), "make the night scenes rainy",
                            "--yes"], env={**env, "OPENAI_BASE_URL": srv.url, "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert len(srv.chat_requests) == 4  # the first answer and 3 retries with the error
    assert r.returncode == 2, r.stdout + r.stderr
    [line] = r.stderr.strip().splitlines()
    assert "could not turn the request into edits" in line and "nothing was changed" in line
    assert "replace" in line  # and how to do it without a model
    assert files() == before


def test_a_replacement_must_quote_text_the_film_has(tmp_path):
    """A model's ``replace_text`` of a phrase the shots it names do not hold is sent back for another answer (a real
    SmolLM2 run scoped "noon at the fish market" to shots without it, and the revision failed), case-insensitively;
    text an earlier edit of the same list writes counts."""
    import pytest

    from agents.reviser.llm import check_edits
    from schemas.edit import EditList

    ctx = context(render(tmp_path, ALL_CUTS))
    first = ctx.script.shots()[0]
    word = first.prompt.split()[1]
    ok = EditList.model_validate({"edits": [{"op": "replace_text", "old": word.upper(), "new": "x"}]})
    assert check_edits(ok, ctx) is ok
    missing = EditList.model_validate({"edits": [{"op": "replace_text", "old": "zebra crossing", "new": "x"}]})
    with pytest.raises(ValueError, match='"zebra crossing" is not in any prompt or the bible'):
        check_edits(missing, ctx)
    elsewhere = next(s.id for s in ctx.script.shots() if "fish market" not in s.prompt.casefold())
    scoped = EditList.model_validate({"edits": [{"op": "replace_text", "old": "noon at the fish market", "new": "x",
                                                 "shots": [elsewhere]}]})  # the phrase is in another shot
    with pytest.raises(ValueError, match=f'"noon at the fish market" is not in shots {elsewhere}'):
        check_edits(scoped, ctx)
    chained = EditList.model_validate({"edits": [{"op": "replace_text", "old": word, "new": "zebra crossing"},
                                                 {"op": "replace_text", "old": "Zebra crossing", "new": "bridge"}]})
    assert check_edits(chained, ctx) is chained
