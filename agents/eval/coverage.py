"""What a stored eval measured, against the run as it is now: are ``RUN/eval.json``'s metrics this film's?

An eval scores the shot videos the run had when it ran (``RunEval.shots``: ids and video hashes). A render
that went on after it (``resume`` of a killed render), a revision, or an ``undo`` changes or adds shots, and
then the stored film-level numbers describe another film. The report and the batch index show them only
with what they covered and how to refresh them (``python main.py eval RUN``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.eval import RunEval


@dataclass
class Coverage:
    """How a stored eval relates to the run's current shots."""

    current: bool
    """True when the eval measured exactly the current shot videos (its metrics are this film's)."""
    measured: list[str]
    """Shot ids the eval scored, in film order."""
    total: int
    """Shots of the run now."""
    changed: list[str] = field(default_factory=list)
    """Shots the eval scored whose video is another one now (re-rendered since), or that are gone."""
    missing: list[str] = field(default_factory=list)
    """Shots of the run now that the eval did not score (not rendered yet when it ran, or added since)."""
    unchecked: bool = False
    """The eval predates recorded video hashes, so which videos it measured cannot be checked."""

    def fresh_shots(self) -> set[str]:
        """Shot ids whose stored per-shot scores still belong to the shot's current video."""
        return set() if self.unchecked else set(self.measured) - set(self.changed)

    def summary(self, ev: RunEval, run_dir: str) -> str:
        """One sentence for people: what the eval covered and how to refresh it ("" when it is current)."""
        if self.current:
            return ""
        when = f"version {ev.version} at {ev.evaluated_at}"
        of = f"{len(self.measured)} of {ev.shots_total} shots" if ev.shots_total else f"{len(self.measured)} shots"
        before = "" if ev.film_sha256 else ", before the film was assembled"
        what = f"{of} ({_ids(self.measured)}) of {when}{before}"
        if self.unchecked:
            why = "it predates the video hashes that tell which shot videos an eval measured"
        else:
            why = "; ".join(x for x in (
                f"{len(self.changed)} of those shots were re-rendered since ({_ids(self.changed)})" if self.changed else "",
                f"{len(self.missing)} of the {self.total} shots now in the film were not scored ({_ids(self.missing)})"
                if self.missing else "") if x)
        return (f"Out of date: these metrics measured {what}, not the current film: {why}. "
                f"Refresh them with `python main.py eval {run_dir}`.")


def _ids(ids: list[str], most: int = 8) -> str:
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def coverage(ev: RunEval, current: dict[str, str | None]) -> Coverage:
    """Compare ``ev`` with ``current``: the run's shots now, id -> video hash (None: no video yet), in film
    order (see :func:`current_videos`)."""
    measured = [s.shot_id for s in ev.shots]
    if any(s.video_sha256 is None for s in ev.shots):
        return Coverage(current=False, measured=measured, total=len(current), unchecked=True,
                        missing=[sid for sid in current if sid not in measured])
    scored = {s.shot_id: s.video_sha256 for s in ev.shots}
    changed = [sid for sid, h in scored.items() if current.get(sid) != h]
    missing = [sid for sid in current if sid not in scored]
    return Coverage(current=not changed and not missing, measured=measured, total=len(current),
                    changed=changed, missing=missing)


def current_videos(run) -> dict[str, str | None]:
    """The shots of ``run`` (a :class:`~agents.director.rundir.RunDir`) now: shot id -> its video's content
    hash, None for a shot without a video file; in film order."""
    return {st.shot_id: video_hash(run, st) for st in run.manifest.shots}


def video_hash(run, st) -> str | None:
    """The content hash of shot ``st``'s video in ``run`` (a ``RunDir``): the manifest's record, else the
    file's own hash (manifests written before hashes were recorded); None when it has no video file."""
    from story.files import sha256_file

    try:
        path = run.path(st.outputs.video) if st.outputs.video else None
    except ValueError:  # a path that leaves the run is no video of it
        return None
    if path is None or not path.is_file():
        return None
    return st.outputs.video_sha256 or sha256_file(path)


def film_hash(run) -> str | None:
    """The content hash of ``run``'s assembled film (a ``RunDir``), None while it has none (not complete)."""
    from story.files import sha256_file

    m = run.manifest
    try:
        path = run.path(m.film) if m.status == "complete" and m.film else None
    except ValueError:
        return None
    if path is None or not path.is_file():
        return None
    return m.film_sha256 or sha256_file(path)
