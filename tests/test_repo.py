"""Repository hygiene: README's set-up commands are the ones CI runs; nothing from ../shared is committed."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README has no bash block near the top"
    return [ln.strip() for ln in block.group(1).splitlines() if ln.strip()]


def test_readme_has_install_main_job_and_test_commands_near_the_top():
    cmds = _readme_commands()
    assert len(cmds) == 3
    install, job, tests = cmds
    assert "pip install" in install
    assert job.startswith("python main.py ")
    assert "pytest" in tests
    text = (REPO / "README.md").read_text()
    assert text.index("```bash") < 1500


def test_ci_runs_the_readme_install_and_test_commands():
    install, _, tests = _readme_commands()
    ci = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    assert install in ci
    assert tests in ci
    assert "export DAILIES_NO_SKIP=1" in ci


def test_no_st_bench_file_is_committed(st_bench_dir):
    shared = {hashlib.sha256(p.read_bytes()).hexdigest() for p in st_bench_dir.glob("*.json")}
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for rel in filter(None, tracked):
        p = REPO / rel.decode()
        if p.is_file() and p.stat().st_size < 5_000_000:
            assert hashlib.sha256(p.read_bytes()).hexdigest() not in shared, p
