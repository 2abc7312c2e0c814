"""Every third-party module the packages import is declared and installed by each Docker image.

A static check (no Docker engine here): walk the imports of every package under ``src/`` (its
runtime code; ``test/`` directories and ``setup.py`` are build/test-time), classify each top-level
module, and check

* a ROS package (a ``<depend>``/``<exec_depend>`` without the ``python3-`` prefix, e.g. ``rclpy``,
  ``nav_msgs``) is declared by the package.xml of the package that imports it, and each
  Dockerfile installs the package.xml keys with ``rosdep install --from-paths src``;
* a Python distribution (``yaml`` -> ``PyYAML``, ...) is declared by the owning package.xml as a
  rosdep key (``python3-yaml``) or pinned in requirements.txt (following ``-r`` includes), and
  each Dockerfile installs it: by ``rosdep install`` when it is a package.xml key, else by a
  ``pip install -r FILE`` whose file pins it (and is copied into the image).

A module that is none of these fails the test: add it to ``DISTRIBUTIONS`` and declare it.
"""

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile*"))

# import name -> (PyPI distribution, rosdep key or None when the distro has none / too old)
DISTRIBUTIONS = {
    "numpy": ("numpy", "python3-numpy"),
    "scipy": ("scipy", "python3-scipy"),
    "yaml": ("pyyaml", "python3-yaml"),
    "psutil": ("psutil", "python3-psutil"),
    "matplotlib": ("matplotlib", "python3-matplotlib"),
    "pandas": ("pandas", "python3-pandas"),
    "sklearn": ("scikit-learn", "python3-sklearn"),
    "rosbags": ("rosbags", None),
    "statsforecast": ("statsforecast", None),
    "coreforecast": ("coreforecast", None),
    "utilsforecast": ("utilsforecast", None),
    "ortools": ("ortools", None),
    "google": ("protobuf", None),
    "mcap": ("mcap", None),
    # Debian/Ubuntu's python3-fastapi and python3-uvicorn are too old for the API's models (pydantic 2)
    "fastapi": ("fastapi", None),
    "pydantic": ("pydantic", None),
    "uvicorn": ("uvicorn", None),
}
# Imported only behind a check that refuses to start with a message naming the package to install.
OPTIONAL = {"nav2_msgs": "drive_backend nav2 only (drive_backends.Nav2Backend checks find_spec)"}


def _packages() -> dict[str, Path]:
    return {p.parent.name: p.parent for p in sorted((ROOT / "src").glob("*/package.xml"))}


def _imports(pkg_dir: Path) -> dict[str, str]:
    """Top-level modules imported by the runtime code of one package -> one file importing it."""
    found: dict[str, str] = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        rel = path.relative_to(pkg_dir)
        if rel.parts[0] in ("test", "tests") or rel.name == "setup.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _declared(pkg_dir: Path) -> set[str]:
    tree = ET.parse(pkg_dir / "package.xml")
    tags = ("depend", "exec_depend", "build_export_depend")
    return {e.text.strip() for tag in tags for e in tree.getroot().iter(tag) if e.text}


def _pins(req: Path, seen: set[Path] | None = None) -> set[str]:
    """Distribution names pinned in a requirements file and the files it includes (lower case)."""
    seen = set() if seen is None else seen
    if req in seen:
        return set()
    seen.add(req)
    out: set[str] = set()
    for line in req.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            out |= _pins((req.parent / line[2:].strip()).resolve(), seen)
        elif line:
            out.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return out


def _docker_installs(dockerfile: Path) -> tuple[bool, set[str], set[str]]:
    """(runs rosdep install --from-paths src, pip-pinned distributions, apt package names)."""
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    run_lines = [line for line in text.splitlines() if line.strip().startswith("RUN ")]
    copied = {m for line in text.splitlines() if line.startswith("COPY ")
              for m in line.split()[1:-1]}
    rosdep = any(re.search(r"rosdep install\b.*--from-paths\s+src\b", line) for line in run_lines)
    pip: set[str] = set()
    apt: set[str] = set()
    for line in run_lines:
        for args in re.findall(r"pip3? install([^&;]*)", line):
            words = args.split()
            for i, word in enumerate(words):
                if i and words[i - 1] == "-r":
                    top = word.split("/")[0]
                    assert top in copied or word in copied, f"{dockerfile.name}: {word} is not copied into the image"
                    pip |= _pins(ROOT / word)
                elif not word.startswith("-"):
                    pip.add(re.split(r"[<>=!~\[; ]", word.strip("'\""), maxsplit=1)[0].lower())
        for chunk in re.findall(r"apt-get install([^&;]*)", line):
            apt |= {w for w in chunk.split() if not w.startswith("-")}
    return rosdep, pip, apt


def _problems(dockerfiles: list[Path], requirements: Path) -> list[str]:
    pinned = _pins(requirements)
    stdlib = set(sys.stdlib_module_names)
    own = set(_packages())
    installs = {d.name: _docker_installs(d) for d in dockerfiles}
    problems = []
    for pkg, pkg_dir in _packages().items():
        declared = _declared(pkg_dir)
        for module, where in sorted(_imports(pkg_dir).items()):
            if module in stdlib or module in own or module == "__future__" or module in OPTIONAL:
                continue
            if module in DISTRIBUTIONS:
                dist, key = DISTRIBUTIONS[module]
                in_xml = key is not None and key in declared
                if not in_xml and dist not in pinned:
                    problems.append(f"{pkg}: {module} ({where}) is declared neither as {key or 'a rosdep key'}"
                                    f" in {pkg}/package.xml nor as {dist} in requirements.txt")
                for name, (rosdep, pip, apt) in installs.items():
                    if not ((in_xml and rosdep) or dist in pip or (key is not None and key in apt)):
                        problems.append(f"{name} does not install {dist} ({module}, imported by {where})")
            elif module in declared:  # a ROS package declared by the owning package.xml
                for name, (rosdep, _, apt) in installs.items():
                    if not rosdep and f"ros-jazzy-{module.replace('_', '-')}" not in apt:
                        problems.append(f"{name} does not install the ROS package {module} (imported by {where})")
            else:
                problems.append(f"{pkg}: {module} ({where}) is not declared: add it to {pkg}/package.xml "
                                "(ROS package or rosdep key) or to requirements (and to DISTRIBUTIONS here)")
    return problems


@pytest.mark.skipif(not DOCKERFILES, reason="no Dockerfile")
def test_every_imported_module_is_declared_and_installed_by_each_dockerfile():
    problems = _problems(DOCKERFILES, ROOT / "requirements.txt")
    assert not problems, "\n".join(problems)


def test_the_check_fails_when_an_image_misses_a_dependency(tmp_path):
    """The same check on a copy of the Dockerfile without the pip step names what is missing."""
    original = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    broken = tmp_path / "Dockerfile"
    broken.write_text(re.sub(r"(?m)^RUN NUMPY=.*(\n\s+&&.*)*$", "", original), encoding="utf-8")
    assert broken.read_text(encoding="utf-8") != original
    problems = _problems([broken], ROOT / "requirements.txt")
    assert any("does not install statsforecast" in p for p in problems), problems
    assert any("does not install ortools" in p for p in problems), problems


def test_the_check_fails_when_a_requirement_is_not_declared(tmp_path):
    """requirements.txt without its includes: the pip-only modules are undeclared."""
    bare = tmp_path / "requirements.txt"
    bare.write_text("ros-rclpy==9.1.2\n", encoding="utf-8")
    problems = _problems(DOCKERFILES, bare)
    assert any("statsforecast" in p and "declared neither" in p for p in problems), problems


def test_wheel_environments_and_images_share_the_runtime_pins():
    """Both distros' wheel environments include the pip runtime file the images install."""
    runtime = _pins(ROOT / "requirements" / "runtime-pip.txt")
    assert {"statsforecast", "ortools", "rosbags"} <= runtime
    for distro_file in ("requirements.txt", "requirements/jazzy.txt"):
        assert runtime <= _pins(ROOT / distro_file), distro_file
