"""dailies command line: parse, build, call, and turn domain errors into one-line messages.

    python main.py "A lonely lighthouse keeper befriends a stranded whale" --out runs/whale
    python main.py plan "LOGLINE" -o story.json
    python main.py render STORY.json --out RUN_DIR [--engine preview] [--seed N] [--size 832x480]
    python main.py resume RUN_DIR
    python main.py chat RUN_DIR        python main.py revise RUN_DIR "make the night scenes rainy" [--yes]
    python main.py history RUN_DIR     python main.py undo RUN_DIR
    python main.py batch LOGLINES.txt|SCRIPTS_DIR --out DIR    python main.py batch --theme "..." --count N --out DIR
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

COMMANDS = ("render", "resume", "plan", "film", "chat", "revise", "history", "undo", "batch")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 832x480") from None
    if w <= 0 or h <= 0 or w % 16 or h % 16:
        raise argparse.ArgumentTypeError(f"--size {text}: width and height must be positive multiples of 16, e.g. 832x480")
    return w, h


def _frames(text: str) -> int:
    n = int(text)
    if n < 5 or (n - 1) % 4:
        raise argparse.ArgumentTypeError(f"--frames {n}: must be 4n+1 and at least 5 (e.g. 81 = 5 s at 16 fps)")
    return n


def _add_backend_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backends")
    g.add_argument("--engine", choices=["preview", "storymem", "auto"], default=None,
                   help="renderer (default: auto = storymem when weights and CUDA are found, else preview)")
    g.add_argument("--models", metavar="DIR", help="folder with the Wan2.2 + StoryMem weights (or DAILIES_MODELS)")
    g.add_argument("--llm-model", metavar="NAME", default=os.environ.get("DAILIES_LLM_MODEL"),
                   help="planner model on an OpenAI-compatible endpoint (default: offline planner)")
    g.add_argument("--vlm-model", metavar="NAME", default=os.environ.get("DAILIES_VLM_MODEL"),
                   help="critic vision model on an OpenAI-compatible endpoint (default: heuristic critic)")
    g.add_argument("--base-url", metavar="URL", help="endpoint (default: OPENAI_BASE_URL, else OpenAI)")
    g.add_argument("--clip-checkpoint", metavar="PATH", help="open_clip ViT-B-32 checkpoint for keyframes")
    g.add_argument("--hpsv3", metavar="PATH", help="HPSv3 checkpoint for the keyframe quality filter")
    g.add_argument("--hpsv3-base", metavar="DIR", help="local Qwen2-VL-7B-Instruct folder HPSv3 builds on")
    s = p.add_argument_group("StoryMem engine (with --engine storymem/auto)")
    s.add_argument("--offload", choices=["none", "model", "group"], help="GPU memory mode (default none: 80 GB cards)")
    s.add_argument("--memory-positions", choices=["released", "paper"],
                   help="temporal RoPE placement of memory frames (default released)")
    s.add_argument("--steps", type=int, help="denoising steps (default 40, the reference sampler)")
    s.add_argument("--attention-backend", metavar="NAME", help="diffusers attention backend, e.g. _native_cudnn")


def _add_render_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", "-o", metavar="RUN_DIR", help="run folder to create (default: runs/<story name>)")
    p.add_argument("--seed", type=int, default=0, help="base seed; shot k uses seed + k (default 0)")
    p.add_argument("--size", type=_size, default=(832, 480), help="WIDTHxHEIGHT (default 832x480)")
    p.add_argument("--frames", type=_frames, default=81, help="frames per shot, 4n+1 (default 81 = 5 s at 16 fps)")
    p.add_argument("--fps", type=int, default=16, help="frames per second (default 16)")
    p.add_argument("--max-memory-size", type=int, default=10, help="most memory keyframes per shot (default 10)")
    p.add_argument("--continuation", choices=["mi2v", "mm2v"], default="mi2v",
                   help="how cut=false shots continue: last frame (mi2v) or last 5 frames (mm2v)")
    p.add_argument("--max-retries", type=int, default=2, help="critic retries per shot (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_backend_flags(p)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python main.py",
        description="dailies: a logline or a story script in, a multi-shot film out.",
        epilog='Shortcut: python main.py "LOGLINE" [--out RUN_DIR] plans and renders in one go.',
    )
    sub = ap.add_subparsers(dest="command", required=True)

    film = sub.add_parser("film", help="plan a film from a logline and render it")
    film.add_argument("logline")
    film.add_argument("--shots", type=int, help="number of shots (default 8-12)")
    film.add_argument("--style", help="visual style, e.g. 'Pixar-style 3D animation'")
    _add_render_flags(film)

    render = sub.add_parser("render", help="render an ST-Bench story script")
    render.add_argument("script", help="story script (.json, ST-Bench format)")
    render.add_argument("--bible", help="character bible (default: SCRIPT.bible.json beside it, else inferred)")
    _add_render_flags(render)

    resume = sub.add_parser("resume", help="finish an interrupted run")
    resume.add_argument("run_dir")
    resume.add_argument("--quiet", action="store_true", help="no progress bars")

    plan = sub.add_parser("plan", help="plan only: write a story script and its bible")
    plan.add_argument("logline")
    plan.add_argument("-o", "--out", required=True, help="story file to write (its bible goes beside it)")
    plan.add_argument("--shots", type=int, help="number of shots (default 8-12)")
    plan.add_argument("--style", help="visual style")
    plan.add_argument("--llm-model", metavar="NAME", default=os.environ.get("DAILIES_LLM_MODEL"))
    plan.add_argument("--base-url", metavar="URL")

    revise = sub.add_parser("revise", help="change a finished film with one request in words")
    revise.add_argument("run_dir")
    revise.add_argument("request", help='e.g. "shot 3: <new prompt>" or, with --llm-model, plain words')
    revise.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    revise.add_argument("--quiet", action="store_true", help="no progress bars")
    revise.add_argument("--llm-model", metavar="NAME", default=os.environ.get("DAILIES_LLM_MODEL"))
    revise.add_argument("--base-url", metavar="URL")

    chat = sub.add_parser("chat", help="revise a finished film interactively")
    chat.add_argument("run_dir")
    chat.add_argument("--llm-model", metavar="NAME", default=os.environ.get("DAILIES_LLM_MODEL"))
    chat.add_argument("--base-url", metavar="URL")

    history = sub.add_parser("history", help="list the versions of a film")
    history.add_argument("run_dir")
    undo = sub.add_parser("undo", help="make the previous version of a film current again")
    undo.add_argument("run_dir")

    batch = sub.add_parser("batch", help="render many films unattended on Ray, each in its own run folder")
    batch.add_argument("input", nargs="?", help="text file of loglines (one per line) or folder of ST-Bench scripts")
    batch.add_argument("--theme", help="no INPUT: the planner proposes --count loglines on this theme")
    batch.add_argument("--count", type=int, help="how many films to propose for --theme")
    batch.add_argument("--ray-address", metavar="ADDR", help="join this Ray cluster (default: $RAY_ADDRESS, else start a local one)")
    batch.add_argument("--max-parallel", type=int, metavar="N", help="most films at once (default: as resources allow)")
    batch.add_argument("--retry-failed", action="store_true", help="also retry the films that failed before")
    batch.add_argument("--shots", type=int, help="shots per logline film (default 8-12)")
    batch.add_argument("--style", help="visual style of logline films")
    _add_render_flags(batch)
    try:
        batch.add_argument("--gpus", type=int, metavar="N",
                           help="GPUs each film needs (default: 1 with the StoryMem engine, 0 for preview films)")
    except argparse.ArgumentError:  # the render flags define --gpus (GPUs per shot): the lead joins the two
        pass
    return ap


def _argv(argv: list[str]) -> list[str]:
    """``main.py "LOGLINE" ...`` is ``main.py film "LOGLINE" ...``."""
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return ["film", *argv]
    return argv


def _domain_errors() -> tuple[type[BaseException], ...]:
    from agents.backends import BackendError
    from agents.batch import BatchError
    from agents.critic.base import CriticError
    from agents.director.rundir import RunError
    from agents.planner.base import PlannerError
    from engine.base import EngineError
    from story.io import ScriptError

    from agents.director.edits import EditError
    from agents.reviser.base import ReviseError

    errors: list[type[BaseException]] = [BackendError, CriticError, RunError, PlannerError, EngineError, ScriptError,
                                         ReviseError, EditError, BatchError]
    try:
        from agents.llm import LLMError

        errors.append(LLMError)
    except ImportError:
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(_argv(list(sys.argv[1:] if argv is None else argv)))
    from cli import commands  # the command bodies (kept out of this file so it stays thin)

    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        target = getattr(args, "out", None) or getattr(args, "run_dir", None)
        hint = f"; continue with `python main.py resume {target}`" if target else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return 130
    except _domain_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"error: {e.strerror or e}{where}; check the path and its permissions", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: one line here, the traceback in a log file
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "dailies-error.log"
        try:
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"; traceback in {log}"
        except OSError:
            where = ""
        print(f"internal error: {type(e).__name__}: {e}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
