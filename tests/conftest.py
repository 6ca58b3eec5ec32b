"""Shared fixtures. In CI (DAILIES_NO_SKIP=1) a skipped test is an error: only `gpu` tests may be
left out, and they are deselected by marker, not skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ST_BENCH = Path(os.environ.get("DAILIES_ST_BENCH", SHARED / "st-bench"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("DAILIES_NO_SKIP") == "1" and report.skipped and "gpu" not in item.keywords:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which is not allowed: {report.longrepr}"


@pytest.fixture(scope="session")
def st_bench_dir() -> Path:
    if not ST_BENCH.is_dir():
        pytest.fail(f"ST-Bench scripts not found at {ST_BENCH}; set DAILIES_ST_BENCH to the folder")
    return ST_BENCH
