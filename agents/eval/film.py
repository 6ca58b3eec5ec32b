"""Evaluate one run folder: read its shots, run the judges once per shot, compute the metrics.

The run is only read; :func:`write_eval` stores the result as ``RUN/eval.json`` (atomic) for the report.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from agents.eval import metrics
from agents.eval.coverage import film_hash, video_hash
from engine.scoring.base import Judges
from engine.scoring.faces import SAME_PERSON_DISTANCE
from engine.scoring.frames import sample_indices
from engine.scoring.identity import IdentityScorer, Observation, pairwise_distances
from schemas.eval import CharacterIdentity, FilmScores, RunEval, ScorerInfo, ShotScores

EVAL_FILE = "eval.json"


class EvalError(RuntimeError):
    """A run cannot be evaluated as asked; the message names the problem and the fix."""


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def evaluate_run(run_dir: str | Path, judges: Judges, *, frames_per_shot: int = 8,
                 identity: IdentityScorer | None = None) -> RunEval:
    """The ST-Bench metrics and character identity of the run's current version.

    Shots without a video (an unfinished run) are left out and noted. Raises :class:`EvalError` when the
    folder is not a run or has no rendered shot."""
    from agents.director.rundir import RunDir, RunError
    from engine.memory import MemoryBank
    from engine.video import read_video

    try:
        run = RunDir.open(run_dir)
        script, bible = run.script(), run.bible()
    except RunError as e:
        raise EvalError(str(e)) from None
    m = run.manifest
    prompts = {s.id: s.prompt for s in script.shots()}
    notes: list[str] = []
    done = [st for st in m.shots if st.outputs.video and run.path(st.outputs.video).is_file()]
    if not done:
        raise EvalError(f"{run.root} has no rendered shot yet; finish it with `python main.py resume {run.root}`")
    if len(done) < len(m.shots):
        notes.append(f"{len(m.shots) - len(done)} of {len(m.shots)} shots have no video yet and are left out")
    if m.status != "complete":
        notes.append(f"the run is {m.status}, not complete")

    counts = [st.outputs.frame_count or 0 for st in done]
    spread = sample_indices(sum(counts), 8) if all(counts) else np.zeros(0, int)  # the film's 8 frames (global)
    starts = np.cumsum([0] + counts)
    film_frames: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    shots: list[ShotScores] = []
    all_aesthetic: list[float] = []
    for n, st in enumerate(done):
        frames = read_video(run.path(st.outputs.video))  # (F, H, W, 3); one shot in memory at a time
        feats.append(judges.video.embed_videos([frames])[0])  # (D,)
        local = spread[(spread >= starts[n]) & (spread < starts[n + 1])] - starts[n]
        film_frames += [frames[min(int(i), len(frames) - 1)] for i in local]
        scores = judges.aesthetic.score(frames[sample_indices(len(frames), frames_per_shot)])  # (k,)
        all_aesthetic += [float(x) for x in scores]
        shots.append(ShotScores(shot_id=st.shot_id, prompt=prompts.get(st.shot_id, st.prompt or ""),
                                aesthetic=_round(scores.mean()), frames=int(len(frames)),
                                video_sha256=video_hash(run, st)))

    video_feats = np.stack(feats)  # (S, D)
    text_feats = judges.text.embed_texts([s.prompt for s in shots])  # (S, D')
    film = FilmScores(aesthetic=_round(np.mean(all_aesthetic)), cross_shot_all=_round(metrics.cross_shot_all(video_feats)))
    top, pairs = metrics.cross_shot_top(video_feats, text_feats)
    film.cross_shot_top10 = _round(top)
    film.top10_pairs = [[shots[i].shot_id, shots[j].shot_id] for i, j in pairs]
    if judges.video.has_text and not film_frames:
        notes.append("global prompt following not measured: the manifest has no frame counts")
    if judges.video.has_text:
        per_shot = metrics.prompt_following(video_feats, text_feats)  # (S,)
        for s, x in zip(shots, per_shot):
            s.prompt_following = _round(x)
        film.prompt_following_shot = _round(per_shot.mean())
        if film_frames:
            g = judges.video.embed_videos([np.stack(film_frames)])  # 8 frames spread over the whole film
            overview = judges.video.embed_texts([script.story_overview or script.story_name])
            film.prompt_following_global = _round(float(g[0] @ overview[0]))
    else:
        notes.append(f"prompt following not measured: {judges.video.name} has no text tower (needs ViCLIP)")

    characters: list[CharacterIdentity] = []
    if identity is not None:
        bank = MemoryBank.load(run.root)
        by_id = {k.id: k for k in bank.keyframes}
        obs = [Observation(key=ref, path=str(run.path(ref)), reference_of=c.name)
               for c in bible.characters for ref in c.reference_images if run.path(ref).is_file()]
        keys_of: dict[str, list[str]] = {}
        for st in done:
            cast = tuple(bible.cast.get(st.shot_id, []))
            for kid in st.outputs.keyframes:
                k = by_id.get(kid)
                if k is not None and run.path(k.path).is_file():
                    obs.append(Observation(key=kid, path=str(run.path(k.path)), shot_id=st.shot_id, cast=cast))
                    keys_of.setdefault(st.shot_id, []).append(kid)
        result = identity.track(obs)
        for s in shots:
            ks = keys_of.get(s.shot_id, [])
            s.faces = sum(result.faces_per_key.get(k, 0) for k in ks) if ks else None
        for c in bible.characters:
            t = result.tracks.get(c.name)
            best = t.by_shot() if t else {}
            for sid, a in best.items():
                for s in shots:
                    if s.shot_id == sid:
                        s.identity[c.name] = _round(a.distance or 0.0)
            d = pairwise_distances([a.embedding for a in best.values()])
            far = {sid: a.distance or 0.0 for sid, a in best.items()}
            worst = max(far, key=far.get) if far else None
            characters.append(CharacterIdentity(
                name=c.name, anchor=t.anchor_source if t else "",
                cast_in=[st.shot_id for st in done if c.name in bible.cast.get(st.shot_id, [])],
                seen_in=list(best), mean_distance=_round(np.mean(d)) if d else None,
                same_person_rate=_round(np.mean([x < identity.threshold for x in d])) if d else None,
                max_anchor_distance=_round(far[worst]) if worst else None, worst_shot=worst,
            ))
        rates = [c.same_person_rate for c in characters if c.same_person_rate is not None]
        film.identity = _round(np.mean(rates)) if rates else None
        faceless = [s.shot_id for s in shots if s.faces == 0]
        if faceless:
            notes.append(f"no faces found in the keyframes of {len(faceless)} shot(s) ({', '.join(faceless[:6])}"
                         f"{'...' if len(faceless) > 6 else ''}): identity skipped there")

    return RunEval(
        run=str(run.root), story_name=script.story_name, version=m.version, engine=m.settings.engine,
        evaluated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), comparable=judges.comparable,
        scorers=[ScorerInfo(role=i.role, name=i.name, comparable=i.comparable, detail=i.detail, upgrade=i.upgrade)
                 for i in judges.info],
        film=film, shots=shots, characters=characters, frames_per_shot=frames_per_shot, notes=notes,
        shots_total=len(m.shots), film_sha256=film_hash(run),
    )


def write_eval(result: RunEval) -> Path:
    """``RUN/eval.json`` (atomic)."""
    from story.files import atomic_write_json

    path = Path(result.run) / EVAL_FILE
    atomic_write_json(path, result.model_dump(mode="json"))
    return path


def identity_threshold() -> float:
    return SAME_PERSON_DISTANCE
