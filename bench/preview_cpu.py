"""CPU benchmark of the embedded path: a 10-shot film through the preview engine.

Per shot: render (PreviewEngine), save the tail PNGs and write the shot MP4 (write_video), keyframe
extraction (StatsEmbedder + StatsQualityScorer), memory admission (MemoryBank); then the film
(assemble_film) and the contact sheet. The script is built here (not read from ../shared), with
cuts and continuations (MI2V and MM2V), several characters and a reference image (MR2V).

    .venv/bin/python bench/preview_cpu.py [--width 832 --height 480 --frames 81 --seed 0 --out DIR]

Prints the wall seconds of each stage and the total, the CPU seconds they used (this process and the
ffmpeg it runs: on a machine shared with other jobs, CPU time stays close to what the stage takes on a
quiet machine while wall time grows with the load), the load average before and after, and the
command that reproduces them.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.features import StatsEmbedder, StatsQualityScorer  # noqa: E402
from engine.keyframes import extract_candidates  # noqa: E402
from engine.memory import MemoryBank  # noqa: E402
from engine.preview import PreviewEngine  # noqa: E402
from engine.video import ContactRow, assemble_film, contact_sheet, save_png, video_info, write_video  # noqa: E402
from schemas import Character, MemorySettings, RenderRequest  # noqa: E402

CHARACTERS = [
    Character(name="Ada", appearance="a wiry woman in her 40s with short grey hair", attire="a yellow raincoat and black boots"),
    Character(name="Milo", appearance="a small scruffy dog"),
    Character(name="Bram", appearance="a broad bearded man", attire="a navy fisherman's sweater"),
]
SHOTS: list[tuple[str, bool, list[str]]] = [  # (prompt, cut, cast)
    ("Dawn over a small harbour town by the sea. Ada walks her dog Milo along the pier. Wide establishing shot, slow pan right.", True, ["Ada", "Milo"]),
    ("Ada stops and looks out at the grey sea, wind tugging at her raincoat. Medium shot, slow push in.", False, ["Ada"]),
    ("Milo sniffs at a coil of rope on the pier, tail wagging. Close-up, static camera, cheerful.", True, ["Milo"]),
    ("Inside a warm, cozy kitchen in the morning, Bram pours coffee by the window. Medium shot, handheld.", True, ["Bram"]),
    ("Ada enters the kitchen with Milo; Bram smiles and hands her a mug. Wide shot, tracking.", True, ["Ada", "Milo", "Bram"]),
    ("Close-up of Ada's face as she listens, steam rising from the mug. Static camera, warm light.", False, ["Ada"]),
    ("Afternoon on a windy hillside above the town; Ada and Bram walk with Milo. Wide shot, pan left.", True, ["Ada", "Bram", "Milo"]),
    ("Dark clouds roll in, heavy rain starts; they hurry down the path. Medium shot, following, tense.", False, ["Ada", "Bram", "Milo"]),
    ("Evening, the city street glows with neon signs as Ada shelters under an awning. Medium shot, tilt up.", True, ["Ada"]),
    ("Night by the harbour, moonlight on calm water; Ada and Milo sit on the pier. Wide shot, slow dolly back, calm.", True, ["Ada", "Milo"]),
]


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in avg)


def reference_image(path: Path) -> None:
    """A stand-in user reference for Milo (MR2V): a brown-and-cream dog shape on grey."""
    img = np.full((240, 320, 3), 120, np.uint8)
    img[110:200, 90:230] = (150, 100, 60)  # body
    img[40:100, 130:190] = (225, 205, 165)  # head
    save_png(img, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--fps", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--continuation", choices=("mi2v", "mm2v", "both"), default="both",
                    help="how cut=false shots continue (both: alternate)")
    ap.add_argument("--out", type=Path, default=None, help="run folder to keep (default: a temporary one)")
    args = ap.parse_args(argv)

    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="dailies-bench-")
        run = Path(tmp.name)
    else:
        run = args.out
        run.mkdir(parents=True, exist_ok=True)
    t: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    load_before = os.getloadavg()
    t_all, cpu_all = time.perf_counter(), _cpu()

    class stage:  # noqa: N801 - a tiny timer: wall and CPU seconds of a block, added to its stage
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            self.w, self.c = time.perf_counter(), _cpu()

        def __exit__(self, *exc) -> None:
            t[self.name] += time.perf_counter() - self.w
            cpu[self.name] += _cpu() - self.c

    engine, embedder, scorer = PreviewEngine(), StatsEmbedder(), StatsQualityScorer()
    settings = MemorySettings()
    with stage("memory"):
        bank = MemoryBank.create(run, settings, embedder.name, scorer.name)
        reference_image(run / "milo-ref.png")
        bank.add_reference("Milo", run / "milo-ref.png", embedder, scorer)

    cast = {c.name: c for c in CHARACTERS}
    done: list[str] = []
    tails: list[str] = []
    record = None  # the previous shot's scene record (what the director hands a continuation)
    rows: list[ContactRow] = []
    videos: list[Path] = []
    continuations = 0
    for n, (prompt, cut, names) in enumerate(SHOTS):
        shot_id = f"{n + 1:02d}-01"
        with stage("memory"):
            memory = bank.as_memory_images(bank.for_shot(done))
            mode, extra = ("m2v" if memory else "t2v"), {}
            if not cut and tails:
                use = args.continuation if args.continuation != "both" else ("mi2v", "mm2v")[continuations % 2]
                continuations += 1
                mode = use
                extra = {"first_frame": tails[-1]} if use == "mi2v" else {"motion_frames": tails}
                extra["previous_scene"] = record
            request = RenderRequest(shot_id=shot_id, prompt=prompt, mode=mode, memory=memory, seed=args.seed + n,
                                    width=args.width, height=args.height, num_frames=args.frames, fps=args.fps,
                                    characters=[cast[x] for x in names], **extra)

        with stage("render"):
            frames = engine.render_shot(request)  # (F, H, W, 3)
            record = engine.scene_record(request)

        with stage("write"):
            tails = []
            for i, frame in enumerate(frames[-5:]):
                tails.append(str(run / "shots" / f"{shot_id}.tail" / f"{i}.png"))
                save_png(frame, tails[-1])
            saved = frames[request.repeated_frames:]  # (F - repeated, H, W, 3)
            videos.append(run / "shots" / f"{shot_id}.mp4")
            write_video(saved, videos[-1], args.fps)

        with stage("keyframes"):
            cands = extract_candidates(saved, embedder, scorer, settings)

        with stage("memory"):
            admitted = bank.admit(shot_id, saved, cands, names, scene=record)
            done.append(shot_id)
        rows.append(ContactRow(shot_id, f"{mode}, {len(cands.indices)} candidates, {len(admitted)} kept",
                               [run / k.path for k in admitted], [m.path for m in memory]))
        print(f"  {shot_id} {mode:4s} memory {len(memory):2d}  keyframes {cands.indices} -> kept {len(admitted)}",
              flush=True)

    with stage("assemble"):
        assemble_film(videos, run / "film.mp4", args.fps)
    with stage("contact sheet"):
        contact_sheet(rows, run / "contact_sheet.png")
    total, cpu_total = time.perf_counter() - t_all, _cpu() - cpu_all
    load_after = os.getloadavg()

    info = video_info(run / "film.mp4")
    print(f"\nfilm: {info.frames} frames {info.width}x{info.height} @ {info.fps:g} fps, "
          f"{os.path.getsize(run / 'film.mp4') / 1e6:.1f} MB; memory bank {len(bank.keyframes)} keyframes")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    print(f"{'stage':>14s}  {'wall':>8s}  {'CPU':>8s}")
    for name in ("render", "write", "keyframes", "memory", "assemble", "contact sheet"):
        per = f"  ({t[name] / len(SHOTS):.2f} s/shot wall)" if name in ("render", "write", "keyframes") else ""
        print(f"{name:>14s}: {t[name]:6.2f} s  {cpu[name]:6.2f} s{per}")
    print(f"{'total':>14s}: {total:6.2f} s  {cpu_total:6.2f} s")
    cmd = [".venv/bin/python", "bench/preview_cpu.py", "--width", str(args.width), "--height", str(args.height),
           "--frames", str(args.frames), "--seed", str(args.seed), "--continuation", args.continuation]
    print("reproduce:", shlex.join(cmd))
    if args.out is not None:
        print(f"outputs kept in {run}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
