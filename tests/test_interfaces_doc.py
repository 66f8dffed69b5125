"""docs/INTERFACES.md cannot drift: every signature it names must be one the code has.

A signature is a ``name(params)`` that opens a line of a ```python block, or a whole inline `name(params)` span
in the prose. ``name`` (a function, a class, or ``Class.method``; a bare method name matches any storm class's)
must exist in storm, and the parameters the page names must be the real ones, in the real order, naming every
parameter that has no default. Types, defaults and shapes on the page are shorthand and are not compared.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import pytest

import storm

PAGE = Path(__file__).resolve().parents[1] / "docs" / "INTERFACES.md"
SIGNATURE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\(")
PARAM = re.compile(r"^\*{0,2}([A-Za-z_]\w*)")
ELIDED = ("...", "…")  # "(...same...)", "(..., progress=SILENT)": the page says it leaves parameters out
FOREIGN = ("ray.", "torch.", "ScalingConfig", "RunConfig")  # Ray's and torch's own calls the page quotes


def storm_callables() -> dict[str, list]:
    """Every public function, class and method of storm by the names the page may use for it."""
    found: dict[str, list] = defaultdict(list)
    for module_info in pkgutil.walk_packages(storm.__path__, "storm."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) != module.__name__ or not callable(value):
                continue
            found[name].append(value)
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    member = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                    if inspect.isfunction(member):
                        found[f"{name}.{attribute}"].append(member)
                        found[attribute].append(member)
    return found


def top_level_split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def balanced(text: str) -> str | None:
    """The text up to the parenthesis that closes an opened one (None when it never closes)."""
    depth = 1
    for index, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if depth == 0:
            return text[:index]
    return None


def named_signatures(page: str) -> list[tuple[int, str, list[str] | None]]:
    """(line, name, parameter names, or None where the page elides some) of every signature the page names."""
    candidates = []
    lines = page.splitlines()
    in_python, pending = False, None
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            in_python, pending = line.strip() == "```python", None
            continue
        if in_python:
            code = line.split("  #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
            if pending is not None:  # a signature whose parameters run on to this line
                pending = (pending[0], pending[1] + " " + code.strip())
                if pending[1].count("(") <= pending[1].count(")"):
                    candidates.append(pending)
                    pending = None
            elif code and not code.startswith(" ") and "(" in code:
                head = code.split(" -> ", 1)[0].split("  ", 1)[0] if code.count("(") == code.count(")") else code
                if head.count("(") > head.count(")"):
                    pending = (number, head)
                else:
                    candidates.append((number, head))
        else:
            candidates += [(number, span) for span in re.findall(r"`([^`]+)`", line)]
    signatures = []
    for number, text in candidates:
        text = text.strip().split(" / ")[0].split("; ")[0].strip()
        match = SIGNATURE.match(text)
        if not match or match["name"].startswith(FOREIGN):
            continue
        inside = balanced(text[match.end():])
        if inside is None or text[match.end() + len(inside) + 1:].strip().split("->")[0].strip():
            continue  # not a signature: a call chained on (StageReporter(console).stage(...)) or an expression
        if any(marker in inside for marker in ELIDED):
            signatures.append((number, match["name"], None))
            continue
        names = [PARAM.match(param) for param in top_level_split(inside)]
        if all(names):
            signatures.append((number, match["name"], [name[1] for name in names]))
    return signatures


def agrees(real, named: list[str] | None) -> bool:
    try:
        parameters = [p for p in inspect.signature(real).parameters.values() if p.name not in ("self", "cls")]
    except (TypeError, ValueError):
        return False
    if named is None:
        return True
    position = {p.name: index for index, p in enumerate(parameters)}
    if any(name not in position for name in named):
        return False
    if [position[name] for name in named] != sorted(position[name] for name in named):
        return False
    required = {p.name for p in parameters if p.default is inspect.Parameter.empty
                and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    return required <= set(named)


PAGE_TEXT = PAGE.read_text(encoding="utf-8")
SIGNATURES = named_signatures(PAGE_TEXT)


def test_the_page_names_the_signatures_it_documents():
    named = {name for _, name, _ in SIGNATURES}
    assert {"ingested_evidence", "train", "read_model", "explain_batch", "walk_forward_folds"} <= named, sorted(named)


@pytest.fixture(scope="module")
def callables():
    return storm_callables()


@pytest.mark.parametrize("line, name, params", SIGNATURES, ids=[f"L{line}-{name}" for line, name, _ in SIGNATURES])
def test_every_signature_on_the_page_is_one_the_code_has(callables, line, name, params):
    found = callables.get(name, [])
    assert found, f"docs/INTERFACES.md line {line}: {name} is not a function, class or method of storm"
    described = ", ".join(params) if params is not None else "..."
    real = "; ".join(f"{getattr(value, '__qualname__', name)}{inspect.signature(value)}" for value in found[:3])
    assert any(agrees(value, params) for value in found), (
        f"docs/INTERFACES.md line {line}: {name}({described}) is not the code's {real}")
