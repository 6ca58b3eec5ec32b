"""The director's nodes. Each returns only the state keys it changes.

Every node is idempotent: LangGraph re-runs an interrupted node from its start after a crash, so a
node first checks the run directory (manifest, files, input hashes) and redoes nothing already done.
Files are written before the manifest that points at them; every write is atomic.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from agents.critic.base import CriticError
from agents.director import versions
from agents.director.identity import identity_evidence
from agents.director.integrity import shot_intact
from agents.director.requests import (
    build_request,
    choose_memory,
    input_hash,
    shot_mode,
    shot_prompt,
    shot_seed,
)
from agents.director.rundir import RunDir, RunError
from agents.director.runtime import Runtime
from agents.director.state import DirectorState
from engine.base import EngineError
from report import refresh_report
from engine.keyframes import extract_candidates
from engine.memory import MemoryBank, select_memory
from engine.video import (
    ContactRow,
    assemble_film,
    contact_sheet,
    load_image,
    read_video,
    save_png,
    write_video,
)
from schemas.critique import (
    CritiqueInput,
    CritiqueReport,
    InjectDetails,
    Reprompt,
    Rerender,
    SwapKeyframes,
)
from schemas.memory import Keyframe, MemoryState
from schemas.render import MOTION_FRAMES, RenderRequest
from schemas.run import ShotOutputs, ShotState
from schemas.script import Shot
from story.files import atomic_write_json, sha256_file
from story.words import count as counted

SAMPLE_POINTS = (0.0, 0.5, 1.0)
"""Where in a saved shot the critic's sample frames are taken (first, middle, last)."""


def save_shot_files(frames: np.ndarray, request: RenderRequest, video: Path, tail: list[Path]) -> tuple[str, list[str], int]:
    """Write a rendered shot: its last frames as lossless PNGs at ``tail`` (the next shot's first or
    motion frames) and the video with the request's repeated conditioning frames dropped.
    ``frames``: ``(F, H, W, 3)`` uint8. Returns (video SHA-256, tail SHA-256s, frames in the video)."""
    tail_sha = []
    for frame, path in zip(frames[-len(tail):] if tail else [], tail):  # (H, W, 3) each
        save_png(frame, path)
        tail_sha.append(sha256_file(path))
    saved = frames[request.repeated_frames:]  # (F - repeated, H, W, 3)
    write_video(saved, video, request.fps)
    return sha256_file(video), tail_sha, int(saved.shape[0])


class DirectorNodes:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self._bank: MemoryBank | None = None
        self._critic_failed = False
        self._usage_seen: dict[int, int] = {}

    # -- helpers ----------------------------------------------------------------------------
    @property
    def run(self) -> RunDir:
        return self.rt.run

    @property
    def bank(self) -> MemoryBank:
        if self._bank is None:
            self._bank = MemoryBank.load(self.run.root)
        return self._bank

    def _shots(self) -> list[Shot]:
        return self.run.script().shots()

    def _state(self, index: int) -> ShotState:
        return self.run.manifest.shots[index]

    def _history(self, shots: list[Shot], cursor: int) -> list[Keyframe]:
        """References, then keyframes of the shots before ``cursor``, in film order."""
        return self.bank.history_before([s.id for s in shots[:cursor]])

    def _record_usage(self, agent) -> None:
        """Copy a model client's new usage records (one per call) into the manifest."""
        usage = getattr(getattr(agent, "client", None), "usage", None)
        if usage is None:
            return
        seen = self._usage_seen.get(id(usage), 0)
        self.run.manifest.usage.extend(usage[seen:])
        self._usage_seen[id(usage)] = len(usage)

    def _notice(self, message: str) -> None:
        if message not in self.run.manifest.notices:
            self.run.manifest.notices.append(message)
        self.rt.events.notice(message)

    def _intact(self, st: ShotState) -> bool:
        """The shot's video, tail frames and keyframes are as recorded (:mod:`integrity`)."""
        return shot_intact(self.run, st, {k.id: k for k in self.bank.state.keyframes})

    def _text_notices(self) -> None:
        """The engine's notices about the text this film draws (the preview: scripts no installed
        font covers among its prompts, names and character details), once the plan exists."""
        notices = getattr(self.rt.backends.engine, "notices", None)
        if notices is None:
            return
        bible = self.run.bible()
        texts = [s.prompt for s in self._shots()] + [st.directives.prompt or "" for st in self.run.manifest.shots]
        texts += [" ".join((c.name, c.appearance, c.attire)) for c in bible.characters]
        for line in notices([t for t in texts if t]):
            self._notice(line)

    def _critic(self):
        b = self.rt.backends
        return b.fallback_critic if self._critic_failed else b.critic

    def _critic_down(self, err: Exception) -> None:
        self._critic_failed = True
        fb = self.rt.backends.fallback_critic
        self._notice(f"critic {self.rt.backends.critic.name} failed ({err}); continuing with the {fb.name} critic")
        if "critic" in self.run.manifest.backends:
            info = self.run.manifest.backends["critic"]
            info.detail = (info.detail + f"; fell back to {fb.name} during the run").lstrip("; ")

    # -- nodes ------------------------------------------------------------------------------
    def plan(self, state: DirectorState) -> dict:
        """Make sure the run has a script, a bible and a memory bank (planning from the logline if needed)."""
        run = self.run
        if not run.has_plan():
            req, planner = self.rt.plan_request, self.rt.backends.planner
            if req is None or planner is None:
                raise RunError(f"{run.root} has no script and no logline to plan from; start a new run")
            draft = run.root / "plan.draft.json"  # a plan cut short resumes from its steps
            plan = planner.plan(req.logline, shots=req.shots, style=req.style, draft=draft, events=self.rt.events)
            self._record_usage(planner)
            for n in getattr(planner, "notices", []):
                if n not in run.manifest.notices:
                    run.manifest.notices.append(n)
            info = run.manifest.backends.get("planner")
            if getattr(planner, "fell_back", None) and info is not None:
                info.detail = (info.detail + "; failed, the offline planner wrote the plan").lstrip("; ")
            run.set_plan(plan.script, plan.bible)
        if not (run.root / "memory" / "bank.json").exists():
            # Built in memory and saved once, references included: bank.json exists only complete
            # (a kill while the references are added leaves no bank, and the next pass starts over).
            be = self.rt.backends
            bank = MemoryBank(run.root, MemoryState(settings=run.manifest.settings.memory, embedder=be.embedder.name,
                                                    scorer=be.scorer.name))
            for character in run.bible().characters:
                for ref in character.reference_images:
                    bank.add_reference(character.name, run.path(ref), be.embedder, be.scorer, save=False)
            bank.save()
            self._bank = bank
        self._text_notices()
        run.manifest.status = "rendering"
        run.save()
        shots = self._shots()
        s = run.manifest.settings
        self.rt.events.run_started(len(shots), sum(st.status == "accepted" for st in run.manifest.shots))
        return {
            "n_shots": len(shots), "cursor": 0, "attempt": 1, "verdict": None, "reuse": False, "done": False,
            "max_retries": s.max_retries, "max_total_retries": s.max_total_retries,
            "total_retries": run.manifest.total_retries,
        }

    def request_for(self, cursor: int) -> RenderRequest:
        """The request of the shot at ``cursor`` from the run as it is now (script, bible, memory
        bank, the shot's directives, its predecessor's tail frames); the same inputs give the same
        request. A memory image or tail frame that is gone is a one-line :class:`RunError`."""
        run, settings = self.run, self.run.manifest.settings
        shots, bible = self._shots(), run.bible()
        shot, st = shots[cursor], self._state(cursor)
        history = self._history(shots, cursor)
        memory = choose_memory(history, st.directives, settings.memory, select_memory)
        mode = shot_mode(shot, bool(memory), settings.continuation)
        tail: list[str] = []
        previous_scene = None
        if mode in ("mi2v", "mm2v"):
            prev = self._state(cursor - 1)
            previous_scene = prev.outputs.scene
            tail = [str(run.path(t)) for t in prev.outputs.tail]
            if len(tail) < (MOTION_FRAMES if mode == "mm2v" else 1) or not all(run.path(t).exists() for t in prev.outputs.tail):
                raise RunError(f"shot {shot.id} continues {prev.shot_id}, whose last frames are missing; "
                               f"run `python main.py doctor {run.root} --repair`")
        try:
            images = self.bank.as_memory_images(memory)
        except ValueError as e:
            raise RunError(f"{e}; or run `python main.py doctor {run.root} --repair`") from None
        return build_request(
            shot=shot, prompt=shot_prompt(shot, st.directives, bible), mode=mode, memory=images, tail=tail,
            seed=shot_seed(st.seed_base if st.seed_base is not None else settings.seed + shot.index,
                           st.directives.reroll),
            settings=settings, characters=bible.in_shot(shot.id), negative_prompt=settings.negative_prompt,
            previous_scene=previous_scene,
        )

    def prepare(self, state: DirectorState) -> dict:
        """Build the shot's request (memory, mode, prompt, seed), run the critic's preflight, hash it."""
        run = self.run
        shots, bible = self._shots(), run.bible()
        cursor, attempt = state["cursor"], state.get("attempt", 1)
        shot, st = shots[cursor], self._state(cursor)

        def make() -> RenderRequest:
            return self.request_for(cursor)

        request = make()
        critic = self._critic()
        try:
            pre = critic.preflight(request, bible)
        except CriticError as e:
            self._critic_down(e)
            pre = self._critic().preflight(request, bible)
        if pre is not None and isinstance(pre.verdict, InjectDetails):
            new = [n for n in pre.verdict.characters if n not in st.directives.inject]
            if new:
                st.directives.inject.extend(new)
                st.verdicts.append(pre.model_copy(update={"attempt": attempt}))
                request = make()

        h = input_hash(request, self.rt.backends.engine_fingerprint)
        if attempt > 1 and st.status == "rendered" and h == st.input_hash:
            # The verdict left the request as it was (e.g. details already present): a retry must
            # still be a new sample, so it draws a new seed.
            st.directives.reroll += 1
            request = make()
            h = input_hash(request, self.rt.backends.engine_fingerprint)
        m = run.manifest
        announced = st.shot_id in m.rerender and st.version != m.version  # not yet re-rendered in this version
        intact = st.status == "accepted" and self._intact(st)
        reuse = intact and st.input_hash == h and not announced
        if intact and st.input_hash != h and m.version > 1 and st.version != m.version and not announced:
            self._notice(f"v{m.version}: shot {st.shot_id} is rendered again although the forecast reused it "
                         "(its inputs changed)")
        if not reuse:
            if st.status == "accepted":
                # Accepted in an earlier version, but its inputs changed: a fresh start in this version.
                st.attempts, st.verdicts_applied = 0, 0
            if st.input_hash != h and st.status != "pending":
                st.status = "pending"
            st.mode, st.seed, st.prompt = request.mode, request.seed, request.prompt
            st.memory_ids = [m.id for m in request.memory]
            st.input_hash = h
        run.save()
        if not reuse:
            self.rt.events.shot_started(shot.id, shot.index, attempt, request.mode)
        return {"request": request.model_dump(mode="json"), "input_hash": h, "reuse": reuse, "verdict": None}

    def render(self, state: DirectorState) -> dict:
        """Render the shot; keep its lossless tail frames; save it with repeated frames dropped."""
        run = self.run
        request = RenderRequest.model_validate(state["request"])
        st = self._state(state["cursor"])
        if st.status == "rendered" and st.input_hash == state["input_hash"] and self._intact(st):
            return {}  # rendered before a crash: the files are this request's
        version = run.manifest.version
        video_rel = RunDir.shot_video(st.shot_id, version)
        video = run.path(video_rel)
        if video.exists() and st.attempts > 0:
            keep = run.path(RunDir.rejected_video(st.shot_id, version, st.attempts))
            keep.parent.mkdir(parents=True, exist_ok=True)
            if not keep.exists():
                shutil.copy2(video, keep)

        t0 = time.perf_counter()
        frames = self.render_frames(request)
        tail_dir = RunDir.shot_tail_dir(st.shot_id, version)
        tail = [f"{tail_dir}/{i}.png" for i in range(min(MOTION_FRAMES, len(frames)))]
        video_sha, tail_sha, count = save_shot_files(frames, request, video, [run.path(t) for t in tail])
        seconds = time.perf_counter() - t0

        record = getattr(self.rt.backends.engine, "scene_record", None)  # engines that draw worlds report them
        st.outputs = ShotOutputs(
            video=video_rel, video_sha256=video_sha, frame_count=count, tail=tail, tail_sha256=tail_sha,
            scene=record(request) if record is not None else None,
        )
        st.status = "rendered"
        st.version = version
        st.engine = self.rt.backends.engine.name
        st.attempts = max(st.attempts, state.get("attempt", 1))
        st.render_seconds += seconds
        st.error = None
        run.save()
        return {}

    def render_frames(self, request: RenderRequest) -> np.ndarray:
        """The engine's frames for ``request``, checked: uint8 ``(F, H, W, 3)``."""
        frames = self.rt.backends.engine.render_shot(request, progress=self.rt.events.render_progress)
        expected = (request.num_frames, request.height, request.width, 3)
        if not isinstance(frames, np.ndarray) or frames.shape != expected or frames.dtype != np.uint8:
            raise EngineError(
                f"engine {self.rt.backends.engine.name} returned {getattr(frames, 'shape', type(frames))} "
                f"frames for shot {request.shot_id}; expected uint8 {expected}"
            )
        return frames

    def extract(self, state: DirectorState) -> dict:
        """Keyframe candidates (semantic selection + quality), sample frames, similarity to memory."""
        run, st = self.run, self._state(state["cursor"])
        frames = read_video(run.path(st.outputs.video))  # (F, H, W, 3)
        be = self.rt.backends
        cands = extract_candidates(frames, be.embedder, be.scorer, run.manifest.settings.memory)
        work = RunDir.work_dir(st.shot_id)
        shutil.rmtree(run.path(work), ignore_errors=True)
        cand_paths = []
        for n, idx in enumerate(cands.indices):
            rel = f"{work}/cand-{n}.png"
            save_png(frames[idx], run.path(rel), durable=False)
            cand_paths.append(rel)
        samples = []
        for j, at in enumerate(SAMPLE_POINTS):
            rel = f"{work}/sample-{j}.png"
            save_png(frames[round(at * (len(frames) - 1))], run.path(rel), durable=False)
            samples.append(rel)

        by_id = {k.id: k for k in self.bank.state.keyframes}
        mem = [by_id[m] for m in st.memory_ids if m in by_id and by_id[m].embedding]
        sims: list[float] = []
        match: list[str | None] = []
        if mem and len(cands.indices):
            m = np.asarray([k.embedding for k in mem], dtype=np.float32)  # (M, D)
            s = np.asarray(cands.embeddings, dtype=np.float32) @ m.T  # (K, M)
            sims = [float(x) for x in s.max(axis=1)]
            match = [mem[int(j)].id for j in s.argmax(axis=1)]
        atomic_write_json(run.path(f"{work}/analysis.json"), {
            "frame_count": int(len(frames)),
            "candidates": [
                {"frame_index": int(i), "embedding": [float(x) for x in e], "quality": float(q), "path": p}
                for i, e, q, p in zip(cands.indices, cands.embeddings, cands.quality, cand_paths)
            ],
            "samples": samples,
            "memory_similarity": sims,
            "memory_match": match,
        })
        st.outputs.candidates = cand_paths
        run.save()
        return {}

    def _analysis(self, state: DirectorState) -> dict:
        """The shot's ``work/SS-KK/analysis.json`` (keyframe candidates, samples); a derived file, so
        when it or one of its images is gone it is extracted again from the shot's video."""
        st = self._state(state["cursor"])
        path = self.run.path(f"{RunDir.work_dir(st.shot_id)}/analysis.json")
        try:
            analysis = json.loads(path.read_text(encoding="utf-8"))
            images = [c["path"] for c in analysis["candidates"]] + list(analysis["samples"])
            if all(self.run.path(p).is_file() for p in images):
                return analysis
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.extract(state)
        return json.loads(path.read_text(encoding="utf-8"))

    def critique(self, state: DirectorState) -> dict:
        """Ask the critic (falling back to the heuristic one if it fails) and record its report."""
        run, st = self.run, self._state(state["cursor"])
        shots, bible = self._shots(), run.bible()
        shot = shots[state["cursor"]]
        analysis = self._analysis(state)
        by_id = {k.id: k for k in self.bank.state.keyframes}
        prev_last = None
        if not shot.cut and state["cursor"] > 0:
            prev = self._state(state["cursor"] - 1)
            prev_last = str(run.path(prev.outputs.tail[-1])) if prev.outputs.tail else None
        inp = CritiqueInput(
            shot_id=st.shot_id, prompt=st.prompt or shot.prompt, cut=shot.cut,
            characters=bible.in_shot(st.shot_id), bible=list(bible.characters),
            video=str(run.path(st.outputs.video)),
            sample_frames=[str(run.path(p)) for p in analysis["samples"]],
            keyframes=[str(run.path(c["path"])) for c in analysis["candidates"]],
            keyframe_memory_similarity=analysis["memory_similarity"],
            keyframe_memory_match=analysis["memory_match"],
            memory=[str(run.path(by_id[m].path)) for m in st.memory_ids if m in by_id],
            memory_ids=[m for m in st.memory_ids if m in by_id],
            previous_last_frame=prev_last,
            attempt=state.get("attempt", 1),
        )
        inp.identity, inp.identity_note = identity_evidence(
            run, self.bank, [s.id for s in shots[: state["cursor"]]], st.shot_id, bible.cast.get(st.shot_id, []),
            inp.keyframes, inp.memory_ids, self.rt.backends.identity)
        try:
            report = self._critic().critique(inp)
        except CriticError as e:
            self._critic_down(e)
            report = self._critic().critique(inp)
        self._record(st, report)
        self._record_usage(self.rt.backends.critic)
        run.save()
        return {"verdict": report.verdict.action}

    @staticmethod
    def _record(st: ShotState, report: CritiqueReport) -> None:
        """Append a shot report once per attempt (a re-run node replaces its own report)."""
        if st.verdicts and st.verdicts[-1].stage == "shot" and st.verdicts[-1].attempt == report.attempt:
            st.verdicts[-1] = report
        else:
            st.verdicts.append(report)

    def apply_verdict(self, state: DirectorState) -> dict:
        """Turn the critic's retry verdict into standing directives for the shot, once."""
        run, st = self.run, self._state(state["cursor"])
        attempt = state.get("attempt", 1)
        if st.verdicts_applied < attempt:
            verdict = st.verdicts[-1].verdict
            d = st.directives
            if isinstance(verdict, Reprompt):
                d.prompt = verdict.prompt
            elif isinstance(verdict, InjectDetails):
                known = {c.name.casefold(): c.name for c in run.bible().characters}
                d.inject.extend(known[n.casefold()] for n in verdict.characters
                                if n.casefold() in known and known[n.casefold()] not in d.inject)
            elif isinstance(verdict, SwapKeyframes):
                d.memory_drop.extend(k for k in verdict.drop if k not in d.memory_drop)
                d.memory_add.extend(k for k in verdict.add if k not in d.memory_add)
            elif isinstance(verdict, Rerender):
                d.reroll += 1
            st.verdicts_applied = attempt
            run.manifest.total_retries += 1
            run.save()
        return {"attempt": attempt + 1, "total_retries": run.manifest.total_retries}

    def update_memory(self, state: DirectorState) -> dict:
        """Accept the shot: its new keyframes join the bank (deduplicated), the cursor moves on."""
        run, cursor = self.run, state["cursor"]
        st = self._state(cursor)
        if state.get("reuse"):
            self.rt.events.shot_finished(st.shot_id, cursor, "reused")
            return {"cursor": cursor + 1, "attempt": 1, "reuse": False, "verdict": None}
        analysis = self._analysis(state)
        bank = self.bank
        cands = analysis["candidates"]
        frames = np.stack([load_image(run.path(c["path"])) for c in cands]) if cands else None  # (K, H, W, 3)
        admitted = bank.admit_images(
            st.shot_id,
            frames,
            frame_indices=[c["frame_index"] for c in cands],
            embeddings=np.asarray([c["embedding"] for c in cands], dtype=np.float32),
            quality=np.asarray([c["quality"] for c in cands], dtype=np.float32),
            characters=run.bible().cast.get(st.shot_id, []),
            version=run.manifest.version,
            scene=st.outputs.scene,
        ) if cands else bank.remove_shot(st.shot_id, save=False, keep_files=True) and []
        bank.save()
        if state.get("verdict") not in (None, "accept"):
            last = st.verdicts[-1] if st.verdicts else None
            why = last.verdict.reason if last else "critic objections"
            self._notice(f"shot {st.shot_id} accepted after {counted(st.attempts, 'attempt')} with the retry budget spent: {why}")
        st.outputs.keyframes = [k.id for k in admitted]
        st.status = "accepted"
        run.save()
        self.rt.events.shot_finished(st.shot_id, cursor, "accepted")
        return {"cursor": cursor + 1, "attempt": 1, "reuse": False, "verdict": None}

    def assemble(self, state: DirectorState) -> dict:
        """The film (H.264 yuv420p MP4) and the contact sheet (keyframes and memory per shot)."""
        run, m = self.run, self.run.manifest
        videos = [run.path(st.outputs.video) for st in m.shots]
        film = run.root / RunDir.FILM
        assemble_film(videos, film, m.settings.fps)
        by_id = {k.id: k for k in self.bank.state.keyframes}
        rows = [
            ContactRow(
                shot_id=st.shot_id,
                label=f"{st.shot_id}  {st.mode}  x{st.attempts}",
                keyframes=[run.path(by_id[k].path) for k in st.outputs.keyframes
                           if k in by_id and run.path(by_id[k].path).is_file()],
                memory=[run.path(by_id[k].path) for k in st.memory_ids if k in by_id and run.path(by_id[k].path).is_file()],
            )
            for st in m.shots
        ]
        contact_sheet(rows, run.root / RunDir.CONTACT_SHEET)
        m.film, m.film_sha256, m.contact_sheet = RunDir.FILM, sha256_file(film), RunDir.CONTACT_SHEET
        m.contact_sheet_sha256 = sha256_file(run.root / RunDir.CONTACT_SHEET)
        m.status = "complete"
        run.save()
        versions.finish(run)  # keep this version (film_vN.mp4 + versions/vN/) and say what it rendered
        refresh_report(run.root)  # RUN/report.html; derived from the folder, never raises
        return {"done": True}
