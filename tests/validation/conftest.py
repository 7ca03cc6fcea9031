"""Fixtures shared by the validation tests."""

from collections.abc import Callable
from pathlib import Path

import pytest
from aimc.validation.models import find_shared_dir

from .predictor_network import compounding, net, profile  # noqa: F401 (the predictor tests' fixtures)


@pytest.fixture
def shared_path() -> Callable[[str, str], Path]:
    """A function giving the path of a shared file, or skipping the test when the file is absent."""

    def find(subdir: str, file: str) -> Path:
        try:
            path = find_shared_dir() / subdir / file
        except FileNotFoundError as error:
            pytest.skip(f"shared data absent: {error}")
        if not path.is_file():
            pytest.skip(f"shared file {path} absent (set AIMC_SHARED to the shared folder)")
        return path

    return find
