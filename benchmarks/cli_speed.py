"""Cold-start times of the ``aimc`` commands that should answer at once (DESIGN section 7).

Every run is a fresh process (the installed ``aimc`` command, or ``python -m aimc.cli`` where it is not on
the PATH), timed from start to exit. Two states of the derivation cache (:mod:`aimc.theory.derivation_cache`):
``cold``, an empty cache folder for every run (the first command after installing, or after a definition
changed), and ``warm``, a folder filled by one earlier run (every later command). The operating system's
file cache is left as it is: after the first run the package's files are in memory, as they are for a user
who runs commands one after another. Reports the median, the smallest and the largest wall time of ``--runs``
runs per command and state, the median CPU time (user + system: less stretched than the wall time by other
work on the cores), the targets (estimate < 1 s, presets, show and check < 0.5 s, on the wall clock) and,
for a warm estimate, where the time goes: the package imports that take longest (``python -X importtime``).

    python benchmarks/cli_speed.py --out benchmarks/results/cli_speed.json

The machine's load average is recorded beside the numbers: other work on the same cores slows every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"estimate": 1.0, "presets": 0.5, "show": 0.5, "check": 0.5, "estimate design-e": None}
"""Seconds a command should take from a cold start (None: no target, measured for the record)."""


def aimc_command() -> list[str]:
    """How a user starts aimc: the installed command, else the module."""
    found = shutil.which("aimc")
    return [found] if found else [sys.executable, "-m", "aimc.cli"]


def commands(scheme_file: Path, design_e: bool) -> dict[str, list[str]]:
    """The timed argument lists, by name."""
    out = {
        "estimate": ["estimate"],
        "presets": ["presets"],
        "show": ["show", "design-a"],
        "check": ["check", str(scheme_file)],
    }
    if design_e:
        out["estimate design-e"] = ["estimate", "--preset", "design-e", "--no-progress"]
    return out


def run_once(arguments: list[str], cache: Path) -> tuple[float, float]:
    """(wall seconds from start to exit, CPU seconds) of one fresh ``aimc`` process with the derivation cache
    in ``cache``. The CPU time (user + system) is what the process itself used: other work on the cores
    stretches the wall time far more than it."""
    env = {**os.environ, "AIMC_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(aimc_command() + arguments, check=False, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"aimc {' '.join(arguments)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(times: list[tuple[float, float]]) -> dict:
    wall = [t for t, _ in times]
    cpu = [c for _, c in times]
    return {"runs": [round(t, 4) for t in wall], "median": round(statistics.median(wall), 4),
            "min": round(min(wall), 4), "max": round(max(wall), 4), "cpu_runs": [round(c, 4) for c in cpu],
            "cpu_median": round(statistics.median(cpu), 4)}


def measure(name: str, arguments: list[str], state: str, runs: int, work: Path) -> dict:
    """``runs`` timings of one command with a cold (emptied before each run) or warm (pre-filled) cache."""
    warm = work / f"warm-{name.replace(' ', '-')}"
    if state == "warm":
        run_once(arguments, warm)
    times = []
    for i in range(runs):
        cache = warm if state == "warm" else work / f"cold-{name.replace(' ', '-')}-{i}"
        times.append(run_once(arguments, cache))
    target = TARGETS[name]
    shown = " ".join(arguments).replace(str(work), "$TMPDIR")  # the scheme file lives in a temporary folder
    result = {"command": f"aimc {shown}", "cache": state, **summary(times), "target": target}
    result["met"] = None if target is None else result["median"] < target
    return result


def import_breakdown(cache: Path, top: int = 8) -> dict:
    """Where a warm ``aimc estimate`` spends its time: the slowest package imports (python -X importtime,
    cumulative: a package's time includes what it imports, so torch's includes numpy's), the time of the
    whole run under importtime, and the rest (startup, aimc's own modules, the computation).

    Also each top-level package's own import time summed over its modules (``self_seconds_by_package``:
    no double counting, and it sees a package that importtime gives no line of its own, as scipy.special
    imported through scipy's lazy attribute), their total, and what remains of the run: interpreter
    start-up and the computation (``rest_seconds``)."""
    env = {**os.environ, "AIMC_CACHE": str(cache)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "aimc.cli", "estimate"], env=env,
                          capture_output=True, text=True, check=True)
    total = time.perf_counter() - start
    packages: dict[str, float] = {}
    own: dict[str, float] = {}
    for line in done.stderr.splitlines():
        fields = [part.strip() for part in line.split("|")]
        if len(fields) != 3 or not fields[1].isdigit():
            continue
        name = fields[2]
        top_level = name.split(".")[0]
        own[top_level] = own.get(top_level, 0.0) + int(fields[0].split(":")[-1]) / 1e6
        if top_level != "aimc" and (name.count(".") == 0 or top_level == "scipy" and name.count(".") == 1):
            packages.setdefault(name, int(fields[1]) / 1e6)
    slowest = dict(sorted(packages.items(), key=lambda kv: -kv[1])[:top])
    imports = sum(own.values())
    by_package = dict(sorted(own.items(), key=lambda kv: -kv[1])[:top])
    return {"total_seconds": round(total, 3), "import_seconds": {k: round(v, 3) for k, v in slowest.items()},
            "self_seconds_by_package": {k: round(v, 3) for k, v in by_package.items()},
            "all_imports_seconds": round(imports, 3), "rest_seconds": round(total - imports, 3)}


def _table(results: list[dict]) -> str:
    lines = [f"{'command':<32} {'cache':<6} {'median':>7} {'min':>7} {'max':>7} {'cpu':>7} {'target':>7}  met"]
    for r in results:
        target = "-" if r["target"] is None else f"{r['target']:.2f}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "no")
        lines.append(f"{r['command'][:32]:<32} {r['cache']:<6} {r['median']:7.3f} {r['min']:7.3f} {r['max']:7.3f} "
                     f"{r['cpu_median']:7.3f} {target:>7}  {met}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON results file")
    parser.add_argument("--runs", type=int, default=5, help="runs per command and cache state (default 5)")
    parser.add_argument("--design-e", action="store_true", help="also time the slow design-E estimate")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="aimc-cli-speed-") as folder:
        work = Path(folder)
        scheme_file = work / "design-a.json"
        shown = subprocess.run(aimc_command() + ["show", "design-a", "--json"], capture_output=True, text=True,
                               check=True)
        scheme_file.write_text(shown.stdout)
        results = []
        for name, arguments in commands(scheme_file, args.design_e).items():
            for state in ("cold", "warm"):
                results.append(measure(name, arguments, state, 1 if "design-e" in name else args.runs, work))
                print(_table(results[-1:]).splitlines()[-1], flush=True)
        breakdown = import_breakdown(work / "warm-estimate")
    meta = {"command": "python " + " ".join(sys.argv), "aimc": " ".join(aimc_command()),
            "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with open(args.out, "w") as handle:
        json.dump({"meta": meta, "results": results, "warm_estimate_breakdown": breakdown}, handle, indent=2)
    print("\n" + _table(results))
    print("warm estimate, slowest imports (s):", json.dumps(breakdown["import_seconds"]))
    print("warm estimate, own import time by package (s):", json.dumps(breakdown["self_seconds_by_package"]),
          f"all imports {breakdown['all_imports_seconds']} s, rest (start-up, computation) {breakdown['rest_seconds']} s")
    print(f"load average before {load_before}, after {meta['load_average_after']}")


if __name__ == "__main__":
    main()
