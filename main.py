"""dailies command line: parse, build, call, and turn domain errors into one-line messages.

    python main.py "A lonely lighthouse keeper befriends a stranded whale" --out runs/whale
    python main.py plan "LOGLINE" -o story.json
    python main.py render STORY.json --out RUN_DIR [--engine preview] [--seed N] [--size 832x480]
    python main.py resume RUN_DIR
    python main.py chat RUN_DIR        python main.py revise RUN_DIR "make the night scenes rainy" [--yes]
    python main.py history RUN_DIR     python main.py undo RUN_DIR
    python main.py prune RUN_DIR [--keep N]
    python main.py eval RUN [RUN ...] [--json FILE]     python main.py report RUN_DIR
    python main.py doctor RUN_DIR [--repair]
    python main.py batch LOGLINES.txt|SCRIPTS_DIR --out DIR    python main.py batch --theme "..." --count N --out DIR
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

COMMANDS = ("render", "resume", "plan", "film", "chat", "revise", "history", "undo", "prune", "eval", "report",
            "doctor", "batch")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (its usage block is what ``--help`` is for)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT``; the allowed sizes are checked by cli/validate.py against the engines' limits."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 832x480") from None
    return w, h


def _keep(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--keep {text!r} is not a whole number, e.g. --keep 2") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--keep {n}: keep at least 1 version (the current one)")
    return n


def _gpus(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--gpus {text!r} is not a number; use 1, 2, 4 or 8") from None
    if n not in (1, 2, 4, 8):
        raise argparse.ArgumentTypeError(f"--gpus {n}: use 1, 2, 4 or 8 (a factor 2 for CFG, the rest splits the sequence)")
    return n


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--step-cache {text!r} is not a number, e.g. 0.05") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"--step-cache {text}: the threshold must be >= 0, e.g. 0.05")
    return value


def _add_backend_flags(p: argparse.ArgumentParser) -> None:
    from engine.storymem.presets import PRESET_NAMES, preset_help

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
    s.add_argument("--preset", choices=PRESET_NAMES, default=None,
                   help=f"speed preset (default exact). {preset_help()}")
    s.add_argument("--gpus", type=_gpus, default=None,
                   help="GPUs per shot, one worker process each (default 1): CFG-parallel, then Ulysses sequence split")
    s.add_argument("--memory-positions", choices=["released", "paper"],
                   help="temporal RoPE placement of memory frames (default paper: the negative shift the LoRA was "
                        "trained with, StoryMem issue #17)")
    s.add_argument("--steps", type=int, help="denoising steps (default 40, the reference sampler)")
    s.add_argument("--attention-backend", metavar="NAME", help="attention kernel: fa4 (FlashAttention-4, bf16), cudnn (bf16), fp8 (cuDNN FP8), sage (Sage FP8, Hopper) or a diffusers backend, e.g. _native_cudnn (default: the preset's)")
    s.add_argument("--step-cache", type=_threshold, metavar="THRESHOLD",
                   help="First Block Cache (diffusers) with this threshold, e.g. 0.05; off by default, its speed-up "
                        "depends on trained weights")


def _add_render_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", "-o", metavar="RUN_DIR", help="run folder to create (default: runs/<story name>)")
    p.add_argument("--seed", type=int, default=0, help="base seed; shot k uses seed + k (default 0)")
    p.add_argument("--size", type=_size, default=None,
                   help="WIDTHxHEIGHT (default 832x480, or the first reference image's aspect at that area)")
    p.add_argument("--frames", type=int, default=81, help="frames per shot, 4n+1 (default 81 = 5 s at 16 fps)")
    p.add_argument("--fps", type=int, default=16, help="frames per second (default 16)")
    p.add_argument("--max-memory-size", type=int, default=10, help="most memory keyframes per shot (default 10)")
    p.add_argument("--continuation", choices=["mi2v", "mm2v"], default="mi2v",
                   help="how cut=false shots continue: last frame (mi2v) or last 5 frames (mm2v)")
    p.add_argument("--max-retries", type=int, default=2, help="critic retries per shot (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_backend_flags(p)


def parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="python main.py",
        description="dailies: a logline or a story script in, a multi-shot film out.",
        epilog='Shortcut: python main.py "LOGLINE" [--out RUN_DIR] plans and renders in one go.',
    )
    sub = ap.add_subparsers(dest="command", required=True)

    film = sub.add_parser("film", help="plan a film from a logline and render it")
    film.add_argument("logline")
    film.add_argument("--shots", type=int, help="number of shots (default 8-12)")
    film.add_argument("--style", help="visual style, e.g. 'Pixar-style 3D animation'")
    film.add_argument("--no-fallback", action="store_true",
                      help="a model planner that fails is an error (default: the offline planner takes over)")
    _add_render_flags(film)

    render = sub.add_parser("render", help="render an ST-Bench story script")
    render.add_argument("script", help="story script (.json, ST-Bench format)")
    render.add_argument("--bible", help="character bible (default: SCRIPT.bible.json beside it, else inferred)")
    render.add_argument("--strict", action="store_true",
                        help="refuse JSON5 and keys that are not ST-Bench fields (default: read them as StoryMem does, "
                             "ignoring unknown keys with a notice)")
    _add_render_flags(render)

    resume = sub.add_parser("resume", help="finish an interrupted run")
    resume.add_argument("run_dir")
    resume.add_argument("--quiet", action="store_true", help="no progress bars")
    resume.add_argument("--engine", choices=["preview", "storymem", "auto"], default=None,
                        help="continue on another engine than the finished shots used (said, and recorded)")

    plan = sub.add_parser("plan", help="plan only: write a story script and its bible")
    plan.add_argument("logline")
    plan.add_argument("-o", "--out", required=True, help="story file to write (its bible goes beside it)")
    plan.add_argument("--force", action="store_true", help="overwrite the story file and its bible if they exist")
    plan.add_argument("--shots", type=int, help="number of shots (default 8-12)")
    plan.add_argument("--style", help="visual style")
    plan.add_argument("--llm-model", metavar="NAME", default=os.environ.get("DAILIES_LLM_MODEL"))
    plan.add_argument("--base-url", metavar="URL")
    plan.add_argument("--no-fallback", action="store_true",
                      help="a model planner that fails is an error (default: the offline planner takes over)")
    plan.add_argument("--quiet", action="store_true", help="no progress")

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
    prune = sub.add_parser("prune", help="free disk space: remove the files only old versions of a film use")
    prune.add_argument("run_dir")
    prune.add_argument("--keep", type=_keep, default=1, metavar="N",
                       help="versions that stay whole, most recently current first (default 1: the current one); "
                            "the version `undo` returns to always stays")
    from cli.evaluate import add_parsers as add_eval_parsers

    add_eval_parsers(sub)  # eval, report
    doctor = sub.add_parser("doctor", help="check every file of a run (hashes); --repair re-makes what is damaged")
    doctor.add_argument("run_dir")
    doctor.add_argument("--repair", action="store_true", help="re-make what is missing or corrupt")
    doctor.add_argument("--quiet", action="store_true", help="no progress bars")

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

    from agents.eval.film import EvalError
    from cli.validate import UsageError
    from engine.scoring.base import ScoringError

    errors: list[type[BaseException]] = [BackendError, CriticError, RunError, PlannerError, EngineError, ScriptError,
                                         ReviseError, EditError, EvalError, ScoringError, UsageError, BatchError]
    try:
        from agents.llm import LLMError

        errors.append(LLMError)
    except ImportError:
        pass
    return tuple(errors)


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines, NUL, terminal escapes and bidirectional controls (which a
    path or a logline may hold) are shown as ``\\n``, ``\\x00``, ``\\u202e``."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def main(argv: list[str] | None = None) -> int:
    try:  # first, because the parser's help reads the engine's presets
        from cli import commands  # the command bodies (kept out of this file so it stays thin)
    except ModuleNotFoundError as e:  # run with a Python that lacks the dependencies
        print(f"error: dailies' dependencies are not installed in {sys.executable} ({e}); install them with the "
              "README's first command (python3 -m venv .venv && . .venv/bin/activate && pip install -e \".[dev]\")",
              file=sys.stderr)
        return 2
    args = parser().parse_args(_argv(list(sys.argv[1:] if argv is None else argv)))

    try:
        from cli.validate import validate  # every flag value a later stage cannot handle, refused before any work

        validate(args)
        return commands.dispatch(args)
    except KeyboardInterrupt:
        target = getattr(args, "out", None) or getattr(args, "run_dir", None)
        hint = f"; continue with `python main.py resume {target}`" if target else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return 130
    except _domain_errors() as e:
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(one_line(f"error: {e.strerror or e}{where}; check the path and its permissions"), file=sys.stderr)
        return 2
    except Exception as e:  # a bug: one line here, the traceback in a log file
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "dailies-error.log"
        try:
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"; traceback in {log}"
        except OSError:
            where = ""
        print(one_line(f"internal error: {type(e).__name__}: {e}{where}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
