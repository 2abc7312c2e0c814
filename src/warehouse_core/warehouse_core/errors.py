"""Errors raised for bad user input (maps, layouts, configs, orders, scenario files).

Every :class:`InputError` names the input (file path or message field), the element and the
problem, and says how to fix it, so that the CLI and the nodes can print it without a traceback.
"""

from __future__ import annotations


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
