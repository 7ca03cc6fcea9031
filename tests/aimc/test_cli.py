"""The command line: presets, show, check, and one-line errors with exit status 2."""

import json
import subprocess
import sys

from aimc.cli import main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "aimc.cli", *args], capture_output=True, text=True, check=False
    )


def test_presets_json_lists_the_required_names(capsys):
    assert main(["presets", "--json"]) == 0
    names = json.loads(capsys.readouterr().out)
    for required in [
        "design-a",
        "design-b",
        "design-c",
        "design-e",
        "isaac",
        "prime",
        "puma",
        "sonos-2022",
        "pcm-joshi",
        "rram-milo",
    ]:
        assert required in names


def test_show_json_is_a_valid_scheme_and_check_accepts_it(tmp_path, capsys):
    assert main(["show", "design-e", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mapping"]["kind"] == "offset" and data["array"]["rows"] == 72
    path = tmp_path / "e.json"
    path.write_text(json.dumps(data))
    assert main(["check", str(path)]) == 0


def test_errors_are_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"adc": {"bits": 30}}))
    for args, needle in [
        (["check", str(bad)], "adc.bits"),
        (["show", "no-such-preset"], "unknown preset"),
        (["show", "design-d"], "not described"),
        (["check", str(tmp_path / "missing.json")], "no such file"),
    ]:
        proc = run(*args)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
