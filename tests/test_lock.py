"""Issue 21: every dependency is pinned in requirements.lock, which `make` installs from (not a fresh resolve)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_every_declared_dependency_is_pinned_to_a_version_it_allows():
    pinned = pins()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements.lock; run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), \
            f"requirements.lock pins {name}=={pinned[name]}, outside {requirement}; run `make lock`"


def test_the_venv_is_installed_from_the_lock_and_storm_without_resolving_again():
    recipe = (ROOT / "Makefile").read_text()
    assert "pip install -q -r requirements.lock" in recipe
    assert "pip install -q --no-deps -e ." in recipe
    assert "--find-links" not in (ROOT / "requirements.lock").read_text()  # nothing of this machine's pip setup
