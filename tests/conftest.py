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


ST_BENCH_HOWTO = (
    "ST-Bench scripts not found at {where}: they are not part of this repository (S-Lab License); get them "
    "from the StoryMem repository (https://github.com/Kevin-thu/StoryMem, folder story/) and set "
    "DAILIES_ST_BENCH to that folder (or put them in ../shared/st-bench beside this checkout)"
)
SHARED_HOWTO = (
    "failure-report case {name} not found at {where}: it lives in the project's shared folder beside the "
    "checkout (../shared/cases); set DAILIES_CASES to a folder holding it"
)
CASES = Path(os.environ.get("DAILIES_CASES", SHARED / "cases"))


@pytest.fixture(scope="session")
def st_bench_dir() -> Path:
    """The ST-Bench scripts; skipped with how to get them when absent (CI sets DAILIES_NO_SKIP=1, which
    turns the skip into a failure, so CI still requires them)."""
    if not ST_BENCH.is_dir() or not any(ST_BENCH.glob("*.json")):
        pytest.skip(ST_BENCH_HOWTO.format(where=ST_BENCH))
    return ST_BENCH


@pytest.fixture(scope="session")
def shared_case():
    """``shared_case("c02_extra_keys")``: a folder of ../shared/cases, skipped (failed in CI) when absent."""

    def find(name: str) -> Path:
        where = CASES / name
        if not where.is_dir():
            pytest.skip(SHARED_HOWTO.format(name=name, where=where))
        return where

    return find
