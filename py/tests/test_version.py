from __future__ import annotations

import pathlib
import re

import gogroup

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_version_is_the_workspace_version() -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    section = cargo.split("[workspace.package]", 1)[1]
    match = re.search(r'^version\s*=\s*"([^"]+)"', section, re.MULTILINE)
    assert match is not None
    assert gogroup.__version__ == match.group(1)
