"""Whether a shot's files are still the ones its manifest entry names: one definition for the
director (a shot is reused only when intact), the revision forecast (a damaged shot is listed as
re-rendered) and ``doctor`` (which reports and repairs what is not intact).

A shot is intact when its video exists with the recorded SHA-256, its tail frames exist (with their
recorded hashes, in manifests that record them), and every keyframe it added to the memory bank is
still in the bank with its image file and hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from agents.director.rundir import RunDir
from schemas.memory import Keyframe
from schemas.run import ShotState
from story.files import sha256_file


def file_ok(path: Path, sha256: str | None) -> bool:
    """``path`` is a file (with content hash ``sha256`` when one is given)."""
    try:
        return path.is_file() and (sha256 is None or sha256_file(path) == sha256)
    except OSError:
        return False


def shot_problems(run: RunDir, st: ShotState, keyframes: dict[str, Keyframe]) -> list[tuple[str, str]]:
    """(run-relative path, "missing" | "corrupt") for each file of the shot that is not as recorded;
    an empty list for an intact shot. A shot without a video is reported as missing its video."""
    out = st.outputs
    bad: list[tuple[str, str]] = []

    def check(rel: str | None, sha: str | None) -> None:
        if not rel:
            bad.append((f"shots/{st.shot_id}.mp4", "missing"))
            return
        try:
            path = run.path(rel)
        except ValueError:
            bad.append((rel, "corrupt"))
            return
        if not path.is_file():
            bad.append((rel, "missing"))
        elif not file_ok(path, sha):
            bad.append((rel, "corrupt"))

    check(out.video, out.video_sha256 or "-")
    hashes = out.tail_sha256 if len(out.tail_sha256) == len(out.tail) else [None] * len(out.tail)
    for rel, sha in zip(out.tail, hashes):
        check(rel, sha)
    for kid in out.keyframes:
        k = keyframes.get(kid)
        if k is None:
            bad.append((f"memory/{kid}.png", "missing"))
        else:
            check(k.path, k.sha256)
    return bad


def shot_intact(run: RunDir, st: ShotState, keyframes: dict[str, Keyframe]) -> bool:
    return not shot_problems(run, st, keyframes)


def damaged_shots(run: RunDir, shots: Iterable[ShotState], keyframes: Iterable[Keyframe]) -> set[str]:
    """Ids of accepted shots whose files are not intact."""
    by_id = {k.id: k for k in keyframes}
    return {st.shot_id for st in shots if st.status == "accepted" and not shot_intact(run, st, by_id)}
