"""Each image has every module its service imports.

A Dockerfile installs the libraries and one service, non-editable, from their pyproject.toml
files: only what they declare (and what that pulls in) ends up in the image. The work tree's
virtual environment has every package installed, so a missing declaration shows only when the
container starts. Here, without Docker, each image's install is followed through the
declared dependencies (the local pyproject files, then the installed distributions' metadata)
and compared with the imports in the source it installs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.service_facts import ROOT, SERVICES


def installed_paths(name: str) -> list[Path]:
    """The local packages the service's Dockerfile pip-installs (``./libs/x ./services/y``)."""
    text = (ROOT / "services" / name / "Dockerfile").read_text().replace("\\\n", " ")
    paths = [
        ROOT / found
        for line in text.splitlines()
        if "pip install" in line and "./" in line
        for found in re.findall(r"\./([\w./-]+)", line)
    ]
    assert paths, f"services/{name}/Dockerfile installs no local package"
    return paths


def pyproject(path: Path) -> dict[str, object]:
    with (path / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def source_dirs(path: Path) -> list[Path]:
    """The package folders the wheel of ``path`` holds (hatch ``packages``)."""
    project = pyproject(path)
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]  # type: ignore[index]
    return [path / package for package in wheel["packages"]]


def closure(requirements: list[Requirement], local: set[str]) -> set[str]:
    """Every distribution installing ``requirements`` brings (local ones are given)."""
    seen: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        key = canonicalize_name(requirement.name)
        extras = sorted(requirement.extras)
        marker_key = f"{key}[{','.join(extras)}]"
        if key in local or marker_key in seen:
            continue
        seen.update({key, marker_key})
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            continue  # not for this platform or Python: the image would not get it either
        for entry in distribution.requires or []:
            needed = Requirement(entry)
            wanted = ["", *extras]
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in wanted):
                pending.append(needed)
    return {name for name in seen if "[" not in name}


def imports(folder: Path) -> Iterator[tuple[str, Path]]:
    """Top-level names of absolute imports in a package, with the file importing them."""
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name.split(".")[0], path
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module.split(".")[0], path


@pytest.mark.parametrize("name", SERVICES)
def test_image_installs_every_module_its_service_imports(name: str) -> None:
    paths = installed_paths(name)
    local = {str(canonicalize_name(str(pyproject(p)["project"]["name"]))) for p in paths}  # type: ignore[index]
    declared = [
        Requirement(entry)
        for path in paths
        for entry in pyproject(path)["project"].get("dependencies", [])  # type: ignore[attr-defined]
    ]
    distributions = closure(declared, local)
    provided = {
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if any(canonicalize_name(owner) in distributions for owner in owners)
    }
    folders = [folder for path in paths for folder in source_dirs(path)]
    provided |= {folder.name for folder in folders}
    missing: dict[str, set[str]] = {}
    for folder in folders:
        for module, path in imports(folder):
            if module in sys.stdlib_module_names or module == "__future__" or module in provided:
                continue
            missing.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert not missing, (
        f"the {name} image would lack {sorted(missing)}; declare them in the pyproject.toml of "
        f"the package importing them: {missing}"
    )
