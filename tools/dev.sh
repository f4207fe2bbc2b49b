#!/usr/bin/env bash
# The two set-up commands of the README, on a fresh machine:
#   tools/dev.sh run [ARGS]   run the kiosk (falls back to the built-in demo with no camera or model)
#   tools/dev.sh test [ARGS]  run the test suite (the same command CI runs)
# Both create ./.venv on first use and reinstall only when pyproject.toml changes.
# HINGE_VENV names another venv folder; HINGE_PYTHON the interpreter that creates it (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HINGE_VENV:-.venv}

setup() {
  if [ ! -x "$venv/bin/python" ]; then
    "${HINGE_PYTHON:-python3}" -m venv "$venv"
  fi
  local stamp
  stamp="$venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e '.[dev]'
    touch "$stamp"
  fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) setup ;;
  run) setup; exec "$venv/bin/hinge-kiosk" run "$@" ;;
  test)
    setup
    # The tests that run the pose model skip without it; with the project's shared folder beside the
    # clone (or $HINGE_SHARED), install it from there, hash-checked, as CI does.
    models="${HINGE_SHARED:-../shared}/models"
    if [ -d "$models" ] && ! "$venv/bin/hinge-kiosk" models verify >/dev/null 2>&1; then
      "$venv/bin/hinge-kiosk" models fetch --from "$models"
    fi
    exec "$venv/bin/python" -m pytest -q "$@" ;;
  *) echo "usage: tools/dev.sh run|test|setup [ARGS]" >&2; exit 2 ;;
esac
