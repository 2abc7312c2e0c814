# shellcheck shell=bash
# Environment of the workspace. Source it (bash or zsh) after scripts/setup.sh has run:
#
#   source scripts/env.sh                             # ROS 2 Kilted (default): .venv + install/
#   WAREHOUSE_DISTRO=jazzy source scripts/env.sh      # ROS 2 Jazzy: .venv-jazzy + install-jazzy/
#
# It activates the distro's venv (the ROS 2 wheels live there: it plays the role of
# /opt/ros/<distro>, so ROS_DISTRO is exported as a distro's setup.bash does), sources the
# colcon install space built for that distro, and keeps DDS on this machine. One distro per
# shell: the two environments hold incompatible builds of the same packages.
#
# Decisions (measured on these machines):
# - Python packages of the workspace are used from the colcon INSTALL space
#   (install/<pkg>/lib/python3.11/site-packages on PYTHONPATH, set by install/setup.*).
#   src/warehouse_core and src/warehouse_nodes are deliberately NOT on PYTHONPATH: the
#   ament_python install works with the wheels, and ./warehouse re-runs setup.sh, which rebuilds
#   (about 3-4 s) whenever anything under src/ changed, so the installed copies are never stale
#   when you go through ./warehouse. If you edit src/ and call python directly, run
#   `scripts/setup.sh` (or `./warehouse setup`) first.
# - The wheel `ros-wheels-bootstrapper` installs a .pth that re-executes every Python start
#   with LD_LIBRARY_PATH extended by the wheels' library dirs (<venv>/lib and
#   site-packages/ros_*.libs), in random order. We set exactly those dirs here, in a fixed
#   order, and set its guard variable _ROS_WHEELS_BOOTSTRAP_COMPLETE=1, so Python starts once
#   (saves ~30 ms per process) and library lookup is deterministic. Processes that do not
#   inherit this environment still work: the bootstrapper then does its re-exec.
# - ROS_DOMAIN_ID: kept if already set (tests and CI set their own). Otherwise derived from the
#   id of the sourcing shell (1..100), so parallel runs on this shared machine do not see each
#   other. To talk to a running stack from a second shell, export the same ROS_DOMAIN_ID in both.

if [ -n "${BASH_VERSION:-}" ]; then
  _wh_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
elif [ -n "${ZSH_VERSION:-}" ]; then
  # shellcheck disable=SC2296
  _wh_root="$(cd "$(dirname "${(%):-%x}")/.." && pwd)"
else
  _wh_root="${WAREHOUSE_ROOT:-$(pwd)}"
fi

_wh_distro="${WAREHOUSE_DISTRO:-kilted}"
case "$_wh_distro" in
  kilted) _wh_sfx="" ;;
  jazzy) _wh_sfx="-jazzy" ;;
  *)
    echo "env.sh: unknown ROS 2 distro '$_wh_distro' in WAREHOUSE_DISTRO: use kilted or jazzy" >&2
    unset _wh_root _wh_distro
    return 2 2>/dev/null || exit 2 ;;
esac
_wh_venv="$_wh_root/.venv$_wh_sfx"
_wh_install="$_wh_root/install$_wh_sfx"

if [ ! -f "$_wh_venv/bin/activate" ] || [ ! -f "$_wh_install/setup.sh" ]; then
  echo "env.sh: workspace not set up for ROS 2 $_wh_distro; run $_wh_root/scripts/setup.sh --distro $_wh_distro" \
       "(or ./warehouse setup --distro $_wh_distro) first" >&2
  unset _wh_root _wh_distro _wh_sfx _wh_venv _wh_install
  return 1 2>/dev/null || exit 1
fi

if [ -n "${WAREHOUSE_ENV_DISTRO:-}" ] && [ "$WAREHOUSE_ENV_DISTRO" != "$_wh_distro" ]; then
  echo "env.sh: this shell already has the ROS 2 $WAREHOUSE_ENV_DISTRO environment; open a fresh shell" \
       "for $_wh_distro (its install space would shadow the other's)" >&2
  unset _wh_root _wh_distro _wh_sfx _wh_venv _wh_install
  return 1 2>/dev/null || exit 1
fi
if [ -n "${ROS_DISTRO:-}" ] && [ "${WAREHOUSE_ENV_DISTRO:-}" != "$ROS_DISTRO" ]; then
  echo "env.sh: warning: a ROS distro ($ROS_DISTRO) is sourced in this shell; its Python packages" \
       "may shadow the wheels in $(basename "$_wh_venv"). Prefer a fresh shell." >&2
fi

export WAREHOUSE_ROOT="$_wh_root"
export WAREHOUSE_DISTRO="$_wh_distro" WAREHOUSE_ENV_DISTRO="$_wh_distro" ROS_DISTRO="$_wh_distro"

# 1. the venv (wheels: rclpy, rmw_fastrtps_cpp, message packages)
# shellcheck disable=SC1091
. "$_wh_venv/bin/activate"

# 2. the colcon install space (warehouse_interfaces, warehouse_core, warehouse_nodes):
#    AMENT_PREFIX_PATH, PYTHONPATH, LD_LIBRARY_PATH (generated typesupport libraries), ...
if [ -n "${BASH_VERSION:-}" ]; then
  # shellcheck disable=SC1091
  . "$_wh_install/setup.bash"
elif [ -n "${ZSH_VERSION:-}" ]; then
  # shellcheck disable=SC1091
  . "$_wh_install/setup.zsh"
else
  COLCON_CURRENT_PREFIX="$_wh_install" . "$_wh_install/setup.sh"
fi

# The venv is the underlay (like /opt/ros/<distro>): ament_index lookups of wheel packages.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$VIRTUAL_ENV:"*) ;;
  *) export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$VIRTUAL_ENV" ;;
esac

# 3. the wheels' shared libraries, as the bootstrapper would add them (see above)
_wh_ld="$VIRTUAL_ENV/lib"
for _wh_d in "$VIRTUAL_ENV"/lib/python3.11/site-packages/ros_*.libs; do
  [ -d "$_wh_d" ] && _wh_ld="$_wh_ld:$_wh_d"
done
# keep the existing order (install space first), append the wheel dirs, drop empty/duplicate items
_wh_new="$(printf '%s' "${LD_LIBRARY_PATH:-}:$_wh_ld" | awk 'BEGIN { RS = ":"; ORS = "" } { sub(/\n$/, "") } NF && !seen[$0]++ { printf "%s%s", (n++ ? ":" : ""), $0 }')"
export LD_LIBRARY_PATH="$_wh_new"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1

# 4. middleware and discovery: Fast DDS, this machine only, a domain of our own
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
if [ -z "${ROS_DOMAIN_ID:-}" ]; then
  export ROS_DOMAIN_ID=$(( ($$ % 100) + 1 ))
fi

unset _wh_root _wh_ld _wh_d _wh_new _wh_distro _wh_sfx _wh_venv _wh_install
