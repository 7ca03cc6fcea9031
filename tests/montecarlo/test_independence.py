"""The simulation must stay an independent check: no module of montecarlo/ imports the theory."""

import ast
import subprocess
import sys
from pathlib import Path

import aimc.montecarlo

PACKAGE = Path(aimc.montecarlo.__file__).parent


def test_no_montecarlo_module_imports_theory():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")] + [a.name for a in node.names]
            else:
                continue
            assert not any("theory" in name for name in names), f"{path.name}:{node.lineno} imports {names}"


def test_running_the_simulation_never_loads_the_theory():
    code = (
        "import sys; from aimc.layers import synthetic_layer; from aimc.montecarlo import simulate_mvm; "
        "from aimc.presets import get_preset; simulate_mvm(synthetic_layer(), get_preset('design-a'), chips=1); "
        "print(any(m.startswith('aimc.theory') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
