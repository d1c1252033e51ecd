"""Shared test configuration."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir():
    """The real DCASE2023 material of ``shared/data``: beside the checkout (as in CI), or
    where ``SBASD_SHARED_DATA`` points."""
    if "SBASD_SHARED_DATA" in os.environ:
        return Path(os.environ["SBASD_SHARED_DATA"])
    for candidate in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data"


def require_shared(path):
    """Fails (never skips) when the real DCASE2023 material the test needs is missing."""
    import pytest

    if not Path(path).exists():
        pytest.fail(
            f"real DCASE2023 material not found at {path}: these tests need ../shared/data "
            "beside the checkout, or SBASD_SHARED_DATA pointing at a copy of it"
        )
