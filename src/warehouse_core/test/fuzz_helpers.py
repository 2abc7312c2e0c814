"""Hostile mutations of text input files, for the fuzzing tests (not a test module).

:func:`mutated` draws one hostile change of a valid file: a token or a line swapped for a
hostile value (NaN, infinities, huge or negative numbers, unicode, YAML structures), a line
duplicated or deleted, the file cut short or emptied.
"""

import re

from hypothesis import strategies as st

HOSTILE = ["nan", ".nan", "NaN", "inf", "-inf", ".inf", "-.inf", "-1", "0", "-0.0", "1e308", "1e-320",
           "99999999999999999999999", "-99999999999999999999", "null", "~", "[]", "{}", "[1, 2", "{a: }",
           "''", '""', "true", "ünïcödé", "🙂", "\u202e", "a" * 300, "0x1F", "1_000", ":", "- - -", "&a *a"]
value = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")


@st.composite
def mutated(draw, text: str) -> str:
    """``text`` with one hostile change."""
    lines = text.splitlines(keepends=True)
    kind = draw(st.sampled_from(["token", "token", "token", "line", "cut", "duplicate", "delete", "empty"]))
    if kind == "empty" or not lines:
        return ""
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "cut":
        return text[:draw(st.integers(0, len(text)))]
    if kind == "line":
        lines[i] = draw(value) + "\n"
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "delete":
        del lines[i]
    else:
        tokens = list(TOKEN.finditer(lines[i]))
        if tokens:
            m = tokens[draw(st.integers(0, len(tokens) - 1))]
            lines[i] = lines[i][:m.start()] + draw(value) + lines[i][m.end():]
    return "".join(lines)
