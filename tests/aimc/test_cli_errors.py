"""Which exceptions the command line turns into a one-line error (exit 2) and which it lets through."""

import argparse

import pytest

from aimc import cli
from aimc._fields import UnknownName


def _parser_raising(error: Exception):
    def build(_command):
        parser = argparse.ArgumentParser()
        parser.set_defaults(func=lambda _args: (_ for _ in ()).throw(error))
        return parser
    return build


def test_an_unknown_name_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(cli, "build_parser", _parser_raising(UnknownName("mapping.kind: unknown mapping 'x'")))
    assert cli._run([]) == 2
    assert capsys.readouterr().err.strip().endswith("error: mapping.kind: unknown mapping 'x'")


def test_any_other_key_error_is_a_bug_and_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(cli, "build_parser", _parser_raising(KeyError("within_tolerance")))
    with pytest.raises(KeyError, match="within_tolerance"):
        cli._run([])
