"""Installs the repository's launch/, config/ (with config/scenarios/) and maps/ into share/warehouse_bringup.

The files stay where the repository keeps them (two levels up); the share directory gets the same
layout, so a path relative to the repository root is the same path relative to the share.
"""

from pathlib import Path

from setuptools import setup

PACKAGE = "warehouse_bringup"
HERE = Path(__file__).resolve().parent
REPO = Path("..", "..")  # relative, as setuptools wants data_files sources
INSTALLED = ("launch", "config", "maps")  # directories of the repository root, recursively


def data_files() -> list[tuple[str, list[str]]]:
    out = [("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
           (f"share/{PACKAGE}", ["package.xml"])]
    for top in INSTALLED:
        dirs = sorted(p for p in (HERE / REPO / top).resolve().rglob("*") if p.is_dir() and p.name != "__pycache__")
        for d in [(HERE / REPO / top).resolve(), *dirs]:
            rel = d.relative_to((HERE / REPO).resolve())
            files = sorted(str(REPO / rel / f.name) for f in d.iterdir() if f.is_file() and f.suffix != ".pyc")
            if files:
                out.append((f"share/{PACKAGE}/{rel.as_posix()}", files))
    return out


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[],
    data_files=data_files(),
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Warehouse Brain maintainers",
    maintainer_email="maintainers@warehouse-brain.dev",
    description="Bringup of the warehouse fleet brain: launch files, parameters and maps",
    license="Apache-2.0",
)
