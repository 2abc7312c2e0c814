#!/usr/bin/env bash
# Idempotent set-up of the workspace: Python venv with the ROS 2 wheels from PyPI, the CMake
# include-path fix for those wheels, and `colcon build` of every package in src/.
#
#   scripts/setup.sh                  # progress lines on stderr
#   scripts/setup.sh --quiet          # silent when there is nothing to do (used by ./warehouse)
#   scripts/setup.sh --force          # ignore the stamps, redo every step
#   scripts/setup.sh --distro jazzy   # ROS 2 distro: kilted (default, or $WAREHOUSE_DISTRO) or jazzy
#
# Each distro has its own environment: kilted .venv/ build/ install/ (requirements.txt),
# jazzy .venv-jazzy/ build-jazzy/ install-jazzy/ (requirements/jazzy.txt).
# Each finished step leaves a stamp under <venv>/.stamps/ holding a hash of its inputs:
#   pip    <- requirements.txt + requirements/*.txt + <venv>/pyvenv.cfg (interpreter)
#   build  <- every file under src/ (caches excluded) + colcon.meta + this script + pip stamp
# so a second call with nothing changed only hashes a few files (well under a second).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT"

QUIET=0
FORCE=0
DISTRO="${WAREHOUSE_DISTRO:-kilted}"
while [ $# -gt 0 ]; do
  case "$1" in
    -q|--quiet) QUIET=1 ;;
    -f|--force) FORCE=1 ;;
    --distro) [ $# -ge 2 ] || { echo "setup: --distro needs a value: kilted or jazzy" >&2; exit 2; }
              DISTRO="$2"; shift ;;
    --distro=*) DISTRO="${1#--distro=}" ;;
    -h|--help) sed -n '2,16p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

# The per-distro directories; scripts/env.sh uses the same names.
case "$DISTRO" in
  kilted) SUFFIX=""; REQ="$ROOT/requirements.txt"; COLCON_LOG="log" ;;
  jazzy) SUFFIX="-jazzy"; REQ="$ROOT/requirements/jazzy.txt"; COLCON_LOG="log/colcon-jazzy" ;;
  *) echo "setup: unknown ROS 2 distro '$DISTRO' (--distro or WAREHOUSE_DISTRO): use kilted or jazzy" >&2; exit 2 ;;
esac
VENV="$ROOT/.venv$SUFFIX"
BUILD="build$SUFFIX"
INSTALL="install$SUFFIX"
STAMPS="$VENV/.stamps"
SETUP_LOG_DIR="$ROOT/log/setup$SUFFIX"

say() { echo "setup: $*" >&2; }
fail() {  # fail STEP LOGFILE
  echo "setup: FAILED at step '$1'. Log: $2" >&2
  if [ -f "$2" ]; then
    echo "setup: ---- last lines of $2 ----" >&2
    tail -n 25 "$2" >&2 || true
  fi
  exit 1
}
hash_stdin() { sha256sum | cut -c1-64; }
stamp_ok() { [ "$FORCE" = 0 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" > "$STAMPS/$1"; }

# Keep the build and our helpers off any ROS the caller may have sourced and off DDS traffic.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export PIP_DISABLE_PIP_VERSION_CHECK=1

# One set-up at a time per checkout (parallel ./warehouse calls would race in build/).
mkdir -p "$SETUP_LOG_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$SETUP_LOG_DIR/.lock"
  if ! flock -n 9; then
    say "waiting for another set-up of this checkout to finish..."
    flock 9
  fi
fi

# ---------------------------------------------------------------- 1. venv
# A venv and a colcon build space are tied to their absolute path: after the checkout was
# moved or copied with them, start over.
if [ -f "$VENV/bin/activate" ] && ! grep -qF "\"$VENV\"" "$VENV/bin/activate"; then
  say "$(basename "$VENV") was created for another path; recreating it (and $BUILD/, $INSTALL/)"
  rm -rf "$VENV" "$BUILD" "$INSTALL"
fi
if [ -f "$BUILD/warehouse_interfaces/CMakeCache.txt" ] &&
   ! grep -qF "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT/src/warehouse_interfaces" "$BUILD/warehouse_interfaces/CMakeCache.txt"; then
  say "$BUILD/ belongs to another checkout path; removing $BUILD/ and $INSTALL/"
  rm -rf "$BUILD" "$INSTALL"
  rm -f "$STAMPS/build"
fi
if [ ! -x "$VENV/bin/python" ]; then
  # The ROS wheels are cp311 only: find a Python 3.11 that has its C headers (needed to
  # compile the generated Python bindings of warehouse_interfaces).
  PY="${WAREHOUSE_PYTHON:-}"
  if [ -z "$PY" ]; then
    for cand in python3.11 python3; do
      if command -v "$cand" >/dev/null 2>&1 &&
         "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        PY="$("$cand" -c 'import sys; print(sys.executable)')"; break  # resolve pyenv shims
      fi
    done
  fi
  [ -n "$PY" ] || { say "need Python 3.11 (the ROS 2 $DISTRO wheels are cp311); set WAREHOUSE_PYTHON"; exit 1; }
  if ! "$PY" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    say "$PY has no C headers (Python.h); install python3.11-dev or use another interpreter via WAREHOUSE_PYTHON"
    exit 1
  fi
  say "creating $(basename "$VENV") ($DISTRO) with $PY"
  mkdir -p "$SETUP_LOG_DIR"
  "$PY" -m venv "$VENV" > "$SETUP_LOG_DIR/venv.log" 2>&1 || fail venv "$SETUP_LOG_DIR/venv.log"
  rm -rf "$STAMPS"
fi
VPY="$VENV/bin/python"

# ---------------------------------------------------------------- 2. pip install
PIP_HASH="$( { cat "$REQ" "$ROOT"/requirements/*.txt; cat "$VENV/pyvenv.cfg"; } | hash_stdin)"
if ! stamp_ok pip "$PIP_HASH"; then
  if [ -f "$STAMPS/pip" ]; then
    say "requirements changed: updating Python packages..."
  else
    say "installing Python packages for ROS 2 $DISTRO (first run, ~1 min)..."
  fi
  mkdir -p "$SETUP_LOG_DIR"
  LOG="$SETUP_LOG_DIR/pip.log"
  # _ROS_WHEELS_BOOTSTRAP_COMPLETE=1: pip needs no ROS libraries, skip the re-exec of the
  # ros_wheels_bootstrapper .pth (see env.sh).
  _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$VPY" -m pip install -r "$REQ" > "$LOG" 2>&1 || fail pip "$LOG"
  stamp_set pip "$PIP_HASH"
fi

# ---------------------------------------------------------------- 3. CMake include-path fix
# The exported CMake targets of the message wheels carry the include dirs of the machine that
# built them; CMake's generate step fails on them. Rewrite them to this interpreter's paths.
# Cheap check first (grep), Python only when something is left to rewrite (e.g. after pip).
if grep -rlsq -e '/opt/python/cp311-cp311/include/python3.11' \
     -e '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include' \
     --include='*.cmake' "$VENV"/share/*/cmake/ 2>/dev/null; then
  say "rewriting wheel CMake include paths to this interpreter"
  mkdir -p "$SETUP_LOG_DIR"
  LOG="$SETUP_LOG_DIR/cmake_fix.log"
  _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$VPY" - "$VENV" > "$LOG" 2>&1 <<'PYEOF' || fail cmake-include-fix "$LOG"
import glob, os, sys, sysconfig
import numpy
venv = sys.argv[1]
repl = {
    "/opt/python/cp311-cp311/include/python3.11": sysconfig.get_paths()["include"],
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
}
for new in repl.values():
    if not os.path.isdir(new):
        sys.exit(f"missing include dir {new}")
n = 0
for path in glob.glob(os.path.join(venv, "share", "*", "cmake", "*.cmake")):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new_text = text
    # longest first: the numpy path does not contain the include path, but be safe
    for old in sorted(repl, key=len, reverse=True):
        new_text = new_text.replace(old, repl[old])
    if new_text != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new_text)
        n += 1
        print("rewrote", path)
print(f"{n} files rewritten")
PYEOF
fi

# ---------------------------------------------------------------- 4. colcon build
# Input hash: file names + contents under src/ and launch/, config/, maps/ (installed by
# warehouse_bringup) (without caches and build debris),
# colcon.meta, this script and the pip stamp.
src_hash() {
  {
    find src launch config maps -type d \( -name __pycache__ -o -name .pytest_cache -o -name '*.egg-info' \
           -o -name .hypothesis -o -name .mypy_cache -o -name .ruff_cache \) -prune \
         -o -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    # contents only (sha256sum FILE would also hash the spelling of the path)
    [ -f colcon.meta ] && sha256sum < colcon.meta
    sha256sum < "$SELF"
    echo "$PIP_HASH"
  } | hash_stdin
}
BUILD_HASH="$(src_hash)"
if ! stamp_ok build "$BUILD_HASH" || [ ! -f "$INSTALL/setup.sh" ]; then
  if [ -f "$INSTALL/setup.sh" ]; then
    say "sources changed: colcon build..."
  else
    say "building the workspace for ROS 2 $DISTRO with colcon into $INSTALL/ (first run, ~1-2 min)..."
  fi
  mkdir -p "$SETUP_LOG_DIR"
  LOG="$SETUP_LOG_DIR/colcon_build.log"
  metas=()
  [ -f colcon.meta ] && metas=(--metas colcon.meta)
  rm -f "$STAMPS/build"
  (
    # Build against the wheels only: drop anything from a sourced ROS distro / old workspace.
    unset AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH PYTHONPATH ROS_DISTRO
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
    export CMAKE_PREFIX_PATH="$VIRTUAL_ENV" AMENT_PREFIX_PATH="$VIRTUAL_ENV"
    # Let the wheels' .pth bootstrapper set LD_LIBRARY_PATH for the Python the generators run.
    unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
    colcon --log-base "$COLCON_LOG" build \
      --base-paths src --build-base "$BUILD" --install-base "$INSTALL" \
      "${metas[@]}" \
      --event-handlers console_direct- console_cohesion+ status- summary+
  ) > "$LOG" 2>&1 || fail "colcon build" "$LOG"
  stamp_set build "$BUILD_HASH"
  say "build done"
fi

# ---------------------------------------------------------------- 5. libsdformat (optional)
# tests/test_gazebo_world.py validates the generated Gazebo worlds with libsdformat 12, the
# SDF parser Gazebo uses (Debian: libsdformat-dev). Installed here when it is missing and we
# are root (CI runs as root); otherwise a one-time hint, and that test skips. Never fatal:
# the rest of the workspace does not need it.
if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists sdformat12 && command -v g++ >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing libsdformat-dev (SDF validation of the Gazebo world; first run, ~1 min)..."
    LOG="$SETUP_LOG_DIR/sdformat.log"
    if ! { apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
             libsdformat-dev pkg-config g++; } > "$LOG" 2>&1; then
      say "WARNING: could not install libsdformat-dev (log: $LOG); the SDF validation test will fail as root"
    fi
  elif [ ! -f "$STAMPS/sdformat-hint" ]; then
    say "hint: install libsdformat-dev, pkg-config and g++ (sudo apt-get install libsdformat-dev pkg-config g++)"
    say "      to validate the generated Gazebo worlds; tests/test_gazebo_world.py skips them until then"
    stamp_set sdformat-hint shown
  fi
fi

# ---------------------------------------------------------------- 6. chromium (optional)
# tests/test_bag_analysis_cli.py renders the report of `./warehouse analyze` in headless
# Chromium (Debian: chromium) and checks its replay draws the robots; tests/test_operator_api.py
# drives the operators' web console in it through Selenium (Debian: chromium-driver). Installed
# here when missing and we are root (CI runs as root); otherwise a one-time hint, and those
# tests skip. Never fatal: neither the run nor analyze needs a browser.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium and chromium-driver (headless browser tests; first run, ~1 min)..."
    LOG="$SETUP_LOG_DIR/chromium.log"
    if ! { apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; } \
         > "$LOG" 2>&1; then
      say "WARNING: could not install chromium (log: $LOG); the browser tests will fail as root"
    fi
  elif [ ! -f "$STAMPS/chromium-hint" ]; then
    say "hint: install chromium and chromium-driver (sudo apt-get install chromium chromium-driver) for the"
    say "      browser tests (report rendering, operators' console); they skip until then"
    stamp_set chromium-hint shown
  fi
fi

if [ "$DISTRO" = kilted ]; then
  [ "$QUIET" = 1 ] || say "ready. Use:  source scripts/env.sh   (or ./warehouse ...)"
else
  [ "$QUIET" = 1 ] || say "ready. Use:  WAREHOUSE_DISTRO=$DISTRO source scripts/env.sh   (or ./warehouse ... --distro $DISTRO)"
fi
