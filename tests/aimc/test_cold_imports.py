"""The quick commands load only what they compute with (DESIGN section 7: ``aimc estimate`` under 1 s from a
cold start, ``presets``, ``show`` and ``check`` under 0.5 s).

Importing torch alone takes about 2 s on the 2-core CPU, sympy about 0.5 s and scipy.optimize 0.4 s, so a
module-level import of one of them on these commands' path misses the targets. Each command runs here in a
fresh interpreter, which reports the heavy modules it loaded; no timing (that is
``benchmarks/cli_speed.py``'s job), only what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "sympy", "scipy", "scipy.optimize", "matplotlib", "tqdm", "pandas", "distributed")

_PROBE = f"""
import contextlib, io, json, sys
import aimc.cli
with contextlib.redirect_stdout(io.StringIO()):
    status = aimc.cli.main(json.loads(sys.argv[1]))
print(json.dumps([status, [m for m in {HEAVY!r} if m in sys.modules]]))
"""


def _loaded(arguments: list[str], cache) -> list[str]:
    """The heavy modules a fresh ``aimc ARGUMENTS`` loads (its derivation cache in ``cache``)."""
    env = {**os.environ, "AIMC_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(arguments)], env=env, capture_output=True,
                          text=True, check=True, timeout=300)
    status, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == 0, done.stderr
    return loaded


@pytest.fixture(scope="module")
def scheme_file(tmp_path_factory):
    from aimc.presets import get_preset

    path = tmp_path_factory.mktemp("scheme") / "design-a.json"
    path.write_text(get_preset("design-a").to_json())
    return path


@pytest.mark.parametrize("arguments", [["presets"], ["presets", "--json"], ["show", "design-a"],
                                       ["show", "design-a", "--json"], ["check", "SCHEME_FILE"]],
                         ids=" ".join)
def test_presets_show_and_check_load_no_heavy_library(arguments, scheme_file, tmp_path):
    arguments = [str(scheme_file) if a == "SCHEME_FILE" else a for a in arguments]
    assert _loaded(arguments, tmp_path) == []


def test_estimate_with_its_derivations_cached_loads_neither_torch_nor_sympy(tmp_path):
    """The first run derives with sympy and fills the cache; every later run reads it and computes in
    numpy with scipy.special (its one scipy part) and tqdm's bar."""
    _loaded(["estimate"], tmp_path)
    assert _loaded(["estimate"], tmp_path) == ["scipy", "tqdm"]
    assert _loaded(["estimate", "--json"], tmp_path) == ["scipy", "tqdm"]
