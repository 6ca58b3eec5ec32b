"""The identity evidence the critic gets for a shot, measured with the run's face judge.

Earlier faces come from the memory bank's history before the shot (reference images first, then the
keyframes of earlier shots, each with the cast of its shot); the shot's own faces from its keyframe
candidates. ``engine.scoring.identity`` does the matching (the same code ``eval`` uses).
"""

from __future__ import annotations

from pathlib import Path

from schemas.critique import IdentityEvidence

BEST_KEYFRAMES = 3
"""How many of a character's best earlier keyframes the evidence names."""
NO_JUDGE = "no face judge installed (pip install dlib-bin face_recognition_models)"


def identity_evidence(run, bank, shot_ids_before: list[str], shot_id: str, cast: list[str],
                      candidates: list[str], memory_ids: list[str], scorer) -> tuple[list[IdentityEvidence], str]:
    """Per cast character, its face in ``candidates`` (absolute paths) against its anchor; and a note when
    identity was not measured. ``scorer``: an ``IdentityScorer`` or None."""
    from engine.scoring.identity import Observation

    if scorer is None:
        return [], NO_JUDGE
    if not cast:
        return [], ""
    cast_of = run.bible().cast
    obs: list[Observation] = []
    for k in bank.history_before(shot_ids_before):
        path = run.path(k.path)
        if not Path(path).is_file():
            continue
        if k.source == "reference":
            if k.characters:
                obs.append(Observation(key=k.id, path=str(path), reference_of=k.characters[0]))
        elif k.shot_id:
            obs.append(Observation(key=k.id, path=str(path), shot_id=k.shot_id, cast=tuple(cast_of.get(k.shot_id, []))))
    own = [Observation(key=Path(p).name, path=p, shot_id=shot_id, cast=tuple(cast)) for p in candidates if Path(p).is_file()]
    result = scorer.track(obs + own)
    out = []
    for c in cast:
        t = result.tracks.get(c)
        here = [a for a in (t.appearances if t else []) if a.shot_id == shot_id]
        earlier = sorted((a for a in (t.appearances if t else []) if a.shot_id and a.shot_id != shot_id),
                         key=lambda a: a.distance or 0.0)
        best = list(dict.fromkeys(a.key for a in earlier))[:BEST_KEYFRAMES]
        common = dict(character=c, threshold=scorer.threshold, best_keyframes=best,
                      in_memory=[k for k in best if k in memory_ids])
        if not here:
            out.append(IdentityEvidence(status="no_face", anchor=t.anchor_source if t else "", **common))
        elif t.anchor_source == f"first appearance in {shot_id}":
            out.append(IdentityEvidence(status="no_anchor", keyframe=here[0].key, **common))
        else:
            a = min(here, key=lambda a: a.distance or 0.0)
            d = float(a.distance or 0.0)
            out.append(IdentityEvidence(status="far" if d > scorer.threshold else "match", distance=round(d, 4),
                                        anchor=t.anchor_source, keyframe=a.key, **common))
    return out, ""
