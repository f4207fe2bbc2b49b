"""Shared fixtures: where the real data lives, and headless SDL for display tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from kiosk.backends import RUNTIMES, runtime_available
from kiosk.errors import ModelError
from kiosk.models import find_model

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

# Hypothesis fails an example slower than 200 ms by default; on a loaded CI machine a scheduler
# stall alone can take that long. Speed is the benchmarks' business, so no example has a deadline.
settings.register_profile("kiosk", deadline=None)
settings.load_profile("kiosk")

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """`$HINGE_SHARED` when set (a folder named there is never silently swapped for another), else
    `../shared` beside the checkout; None when it holds no `data/`."""
    env = os.environ.get("HINGE_SHARED")
    candidate = Path(env) if env else REPO.parent / "shared"
    return candidate if (candidate / "data").is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; tests using it skip (with the reason) on a user's clone without it."""
    found = shared_dir()
    if found is None:
        env = os.environ.get("HINGE_SHARED")
        where = f"HINGE_SHARED={env} has no data/ folder" if env else "no ../shared beside the checkout"
        pytest.skip(
            f"real data not found ({where}): set HINGE_SHARED or place the shared folder at ../shared"
        )
    return found


@pytest.fixture(scope="session")
def shared_data(shared: Path) -> Path:
    return shared / "data"


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The installed pose model; tests needing it skip (naming the fix) when it is not installed."""
    try:
        return find_model()
    except ModelError as exc:
        pytest.skip(f"pose model not installed ({exc}); `hinge-kiosk models fetch --from ../shared/models`")


def _runtime_param(name: str) -> object:
    skip = pytest.mark.skipif(not runtime_available(name), reason=f"pose runtime '{name}' not installed here")
    return pytest.param(name, marks=skip)


@pytest.fixture(params=[_runtime_param(r) for r in RUNTIMES])
def runtime(request: pytest.FixtureRequest) -> str:
    """Each pose runtime installed here, in turn."""
    return request.param
