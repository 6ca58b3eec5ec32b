"""The revision nodes: propose edits, let a person review them, commit them as a new version.

``propose`` computes (never writes); ``review`` is the only node that calls ``interrupt()`` (it
renders nothing, so re-running it on resume is harmless); ``commit`` writes the new version's
script, bible, bank, manifest and history entry in one transaction, then the render loop reuses
every shot whose input hash is unchanged.
"""

from __future__ import annotations

import dataclasses
import json

from langgraph.types import interrupt

from agents.director import versions
from agents.director.edits import Draft, EditError, apply_edits, diff, predict_rerender
from agents.director.integrity import damaged_shots
from agents.director.rundir import RunDir, RunError, copy_references
from agents.director.runtime import Runtime
from agents.director.state import DirectorState
from agents.reviser.base import FilmContext
from engine.memory import MemoryBank, select_memory
from schemas.bible import Bible
from schemas.edit import EditList, VersionRecord
from schemas.run import Usage


class RevisionNodes:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def _draft(self, edits: EditList) -> tuple[Draft, MemoryBank]:
        run = self.rt.run
        bank = MemoryBank.load(run.root)
        try:
            draft = apply_edits(run.script(), run.bible(), run.manifest.shots, {k.id for k in bank.keyframes}, edits.edits)
        except EditError as e:  # planned only: no file of the run was touched
            raise EditError(f"{e}; nothing was changed") from None
        return draft, bank

    def propose(self, state: DirectorState) -> dict:
        """Turn the request into edits and show what they change and what will be rendered again."""
        run = self.rt.run
        m = run.manifest
        if m.status != "complete":
            raise RunError(f"{run.root} is not finished ({m.status}); run `python main.py resume {run.root}` first")
        script, bible = run.script(), run.bible()
        bank = MemoryBank.load(run.root)
        context = FilmContext(script=script, bible=bible, keyframes=[k.id for k in bank.keyframes if not k.dropped])
        edits = self.rt.reviser.edits(state["revision_request"], context)
        usage = getattr(getattr(self.rt.reviser, "client", None), "usage", None)
        draft, bank = self._draft(edits)
        damaged = damaged_shots(run, m.shots, bank.keyframes)
        rerender = predict_rerender(script, bible, m.shots, draft, bank.keyframes, m.settings.memory, select_memory,
                                    damaged=damaged)
        proposal = {
            "request": state["revision_request"],
            "reviser": self.rt.reviser.name,
            "summary": edits.summary,
            "edits": [e.model_dump(mode="json") for e in edits.edits],
            "diff": diff(script, bible, draft),
            "rerender": rerender,
            "reuse": [s.id for s in draft.script.shots() if s.id not in rerender],
            "notes": draft.notes,
            "replacements": [dataclasses.asdict(r) for r in draft.replacements],
            "version": state["target_version"],
            "usage": [u.model_dump(mode="json") for u in usage or []],
        }
        return {"proposal": proposal}

    def review(self, state: DirectorState) -> dict:
        """Human review: pause the graph until the person answers (True applies the edits)."""
        answer = interrupt(state["proposal"])
        return {"approved": bool(answer)}

    def commit(self, state: DirectorState) -> dict:
        """Write the new version in one transaction (idempotent: a re-run after a crash does nothing)."""
        run = self.rt.run
        target = state["target_version"]
        if run.manifest.version == target:
            return {}
        edits = EditList.model_validate({"edits": state["proposal"]["edits"], "summary": state["proposal"]["summary"]})
        draft, bank = self._draft(edits)
        old = run.manifest
        if not versions.has_snapshot(run, old.version):
            versions.snapshot(run)

        # The bank after the edits: deleted shots forgotten, renumbered shots renamed, flags, references.
        kfs = []
        renamed = {old_id: new_id for new_id, old_id in draft.origin.items() if old_id}
        for k in bank.keyframes:
            if k.shot_id in draft.deleted:
                continue
            if k.shot_id in renamed:
                k = k.model_copy(update={"shot_id": renamed[k.shot_id]})
            kfs.append(k)
        flags = {"pin": {"pinned": True}, "unpin": {"pinned": False}, "drop": {"dropped": True}}
        for op, kid in draft.keyframe_ops:
            kfs = [k.model_copy(update=flags[op]) if k.id == kid else k for k in kfs]
        new_bank = MemoryBank(run.root, bank.state.model_copy(update={"keyframes": kfs}))
        bible = draft.bible
        for name, image in draft.references:
            c = bible.character(name)
            one = Bible(characters=[c.model_copy(update={"reference_images": [image]})])
            rel = copy_references(one, None, run.root, start=len(c.reference_images)).characters[0].reference_images[0]
            c.reference_images = [*c.reference_images, rel]
            new_bank.add_reference(c.name, run.path(rel), self.rt.backends.embedder, self.rt.backends.scorer, save=False)

        manifest = old.model_copy(deep=True, update={
            "version": target, "status": "rendering", "shots": draft.shots, "thread": state["thread"],
            "rerender": list(state["proposal"]["rerender"]),
        })
        for n in draft.notes:
            manifest.notices.append(f"v{target}: {n}")
        manifest.usage.extend(Usage.model_validate(u) for u in state["proposal"].get("usage", []))
        record = VersionRecord(version=target, action="revise", parent=old.version, request=state["revision_request"],
                               edits=edits.edits, at=versions.now())
        history = versions.history(run) + [record]
        staged = versions.stage(run, f"revise-v{target}", {
            RunDir.SCRIPT: _json(draft.script.to_json_dict()),
            RunDir.BIBLE: _json(bible.model_dump(mode="json")),
            "memory/bank.json": _json(new_bank.state.model_dump(mode="json")),
            versions.HISTORY: versions._records.dump_json(history, indent=2) + b"\n",
            RunDir.MANIFEST: _json(manifest.model_dump(mode="json")),
        })
        versions.commit(run, staged)
        run.reload()
        return {}


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
