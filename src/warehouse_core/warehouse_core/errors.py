"""Errors raised for bad user input (maps, layouts, configs, orders, scenario files).

Every :class:`InputError` names the input (file path or message field), the element and the
problem, and says how to fix it, so that the CLI and the nodes can print it without a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


class InputError(ValueError):
    """Bad input: ``source`` (file or message), where in it, what is wrong, and the fix."""

    def __init__(self, source: str, problem: str, *, where: str = "", fix: str = "") -> None:
        self.source = str(source)
        self.where = where
        self.problem = problem
        self.fix = fix
        loc = f"{self.source}:{where}" if where else self.source
        text = f"{loc}: {problem}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)


def unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read as text, for an :class:`InputError` message."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return exc.strerror or str(exc)


def read_yaml_file(path: str | Path, what: str, fix: str) -> tuple[str, object]:
    """The text of the file at ``path`` and its parsed YAML; an :class:`InputError` naming the
    file (and the line of a syntax error) if it is not readable UTF-8 text or not valid YAML.
    ``what`` names the kind of file in the message, ``fix`` says how to give the right one."""
    src = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(src, f"cannot read {what}: {unreadable(exc)}", fix=fix) from None
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(src, f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
                         where=f"{mark.line + 1}" if mark is not None else "", fix="fix the YAML syntax") from None


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are :class:`InputError` s (one line: the argument and
    the fix) instead of a usage dump on stderr and ``SystemExit(2)``; ``--help`` is unchanged."""

    def error(self, message: str):  # type: ignore[override]
        raise InputError(self.prog, message, fix=f"see {self.prog} --help")
