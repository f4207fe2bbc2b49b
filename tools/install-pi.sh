#!/usr/bin/env bash
# Install Hinge Mirror as a boot-time kiosk service on Raspberry Pi OS 64-bit (Bookworm or Trixie).
#
#   sudo tools/install-pi.sh [--dry-run] [--model-from DIR]
#
# Run it from a checkout of the repository. It is safe to run again: each step checks what is
# already in place, so a second run upgrades the kiosk to the checkout and changes nothing else.
# --dry-run prints every step and the commands that would change the system, and changes nothing.
#
# The venv uses --system-site-packages so apt's python3-picamera2 (with libcamera) is importable,
# and pip is constrained to the system's numpy version: picamera2, simplejpeg and libcamera's
# bindings are built against Pi OS's numpy, and a second numpy from PyPI in the venv would shadow
# it and break them. See docs/install-pi.md.
set -euo pipefail

KIOSK_USER=hinge-kiosk
PREFIX=/opt/hinge-kiosk
VENV=$PREFIX/venv
CONSTRAINTS=$PREFIX/constraints.txt
STATE_DIR=/var/lib/hinge-kiosk
MODEL_DIR=$STATE_DIR/models
CONF_DIR=/etc/hinge-kiosk
CONF_FILE=$CONF_DIR/config.toml
UNIT_DIR=/etc/systemd/system
UNIT=hinge-kiosk.service
SYSUSERS_FILE=/etc/sysusers.d/hinge-kiosk.conf
UDEV_RULE=/etc/udev/rules.d/99-hinge-kiosk.rules
SYS_PYTHON=/usr/bin/python3
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# python3-picamera2 comes from the Raspberry Pi archive, without its desktop preview extras.
# Mesa (GBM, EGL, GLES and the vc4/v3d driver) is what SDL's KMS/DRM backend draws with.
# DejaVu Sans is the screens' typeface (without it pygame's own font stands in, bold only).
APT_PACKAGES=(python3-venv python3-numpy python3-picamera2 libgbm1 libegl1 libgles2 libgl1-mesa-dri alsa-utils
  fonts-dejavu-core)

DRY_RUN=0
MODEL_FROM=
MODEL_MISSING=0

say() { printf '==> %s\n' "$*"; }
warn() { printf 'install-pi.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'install-pi.sh: error: %s\n' "$*" >&2
  exit 1
}

# Run a command that changes the system, or only show it under --dry-run.
run() {
  if ((DRY_RUN)); then
    printf '+ %s\n' "$(printf '%q ' "$@" | sed 's/ $//')"
  else
    "$@"
  fi
}

# Copy the checkout's sources into the folder $1: not its hidden entries (git history, venvs, caches)
# or build leftovers.
copy_sources() {
  tar -C "$REPO" --exclude='./.*' --exclude=./build --exclude='./*.egg-info' -cf - . | tar -C "$1" -xf -
}

# Write stdin to a file (mode $2), or show what would be written under --dry-run.
write_file() {
  local path=$1 mode=$2 tmp
  if ((DRY_RUN)); then
    printf '+ write %s (mode %s):\n' "$path" "$mode"
    sed 's/^/|   /'
    return
  fi
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
}

usage() {
  sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

parse_args() {
  while (($#)); do
    case $1 in
      --dry-run) DRY_RUN=1 ;;
      --model-from)
        (($# >= 2)) || die "--model-from needs a folder"
        MODEL_FROM=$2
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        usage >&2
        exit 2
        ;;
    esac
    shift
  done
}

preflight() {
  if ((!DRY_RUN)) && ((EUID != 0)); then
    die "run it as root: sudo $0"
  fi
  local arch codename=unknown pretty=unknown
  arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case $arch in
    arm64 | aarch64) ;;
    armhf | armel) die "this is 32-bit Raspberry Pi OS; install Raspberry Pi OS 64-bit (the pose runtime needs it)" ;;
    *)
      ((DRY_RUN)) || die "this is $arch, not a 64-bit Raspberry Pi (python3-picamera2 is Pi-only)"
      warn "this is $arch, not a 64-bit Raspberry Pi; showing what would happen on one"
      ;;
  esac
  if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-unknown}")
    # shellcheck source=/dev/null
    pretty=$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-unknown}")
  fi
  case $codename in
    bookworm | trixie) say "system: $pretty, $arch" ;;
    *) warn "tested on Bookworm and Trixie, this is '$codename'; continuing" ;;
  esac
  if [[ -n $MODEL_FROM && ! -d $MODEL_FROM ]]; then
    die "--model-from $MODEL_FROM: no such folder"
  fi
}

install_packages() {
  local pkg missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    say "apt packages: all present"
    return
  fi
  say "apt packages: installing ${missing[*]}"
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

create_user() {
  say "service user $KIOSK_USER in video, render, input and audio (systemd-sysusers)"
  run install -D -m 0644 "$REPO/systemd/hinge-kiosk.sysusers" "$SYSUSERS_FILE"
  run systemd-sysusers "$SYSUSERS_FILE"
}

create_dirs() {
  say "folders: $PREFIX (code), $STATE_DIR (history, model), $CONF_DIR (site config)"
  run install -d -m 0755 "$PREFIX" "$CONF_DIR"
  run install -d -o "$KIOSK_USER" -g "$KIOSK_USER" -m 0750 "$STATE_DIR"
  # Root-owned: the kiosk reads its model but cannot alter it.
  run install -d -m 0755 "$MODEL_DIR"
}

# The venv must be built on the system Python with its site-packages visible; an old one built
# otherwise (or on a Python that an OS upgrade replaced) is rebuilt.
venv_is_usable() {
  [[ -x $VENV/bin/python ]] || return 1
  grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg" 2>/dev/null || return 1
  [[ $("$VENV/bin/python" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null) == \
    "$("$SYS_PYTHON" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)" ]]
}

system_numpy() {
  "$SYS_PYTHON" -c 'import numpy; print(numpy.__version__)' 2>/dev/null
}

install_venv() {
  if venv_is_usable; then
    say "venv $VENV: present, on the system Python with system site-packages"
  else
    say "venv $VENV: creating with --system-site-packages (apt's picamera2 and numpy stay visible)"
    [[ -e $VENV ]] && run rm -rf "$VENV"
    run "$SYS_PYTHON" -m venv --system-site-packages "$VENV"
  fi
  local numpy_version
  if ! numpy_version=$(system_numpy); then
    ((DRY_RUN)) || die "the system numpy ($SYS_PYTHON) does not import; is python3-numpy installed?"
    numpy_version="<python3-numpy's version>"
  fi
  say "numpy: pinned to the system's $numpy_version so pip never installs a second one"
  printf '# Written by tools/install-pi.sh: keep the venv on the system numpy that picamera2 is built for.\nnumpy==%s\n' \
    "$numpy_version" | write_file "$CONSTRAINTS" 0644
  # pip builds a local folder in place: run as root, that leaves root-owned build/ and *.egg-info
  # in the checkout, and setuptools never empties build/lib, so a module a `git pull` removed
  # would be installed again. pip gets a fresh copy of the sources instead.
  say "hinge-kiosk: installing from $REPO (a clean copy of it)"
  local src
  if ((DRY_RUN)); then
    src="<a temporary copy of $REPO>"
    printf '+ copy %s (without .git, venvs and build leftovers) to %s\n' "$REPO" "$src"
  else
    src=$(mktemp -d /tmp/hinge-kiosk-src.XXXXXX)
    # shellcheck disable=SC2064 # the folder's name now: $src is local and gone when the trap runs
    trap "rm -rf '$src'" EXIT # removed even when pip fails and the script stops
    copy_sources "$src"
  fi
  run env PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --no-input --upgrade \
    --constraint "$CONSTRAINTS" "$src"
  if ((!DRY_RUN)); then
    rm -rf "$src"
    trap - EXIT
  fi
  if ((DRY_RUN)); then
    printf '+ check: numpy in the venv is %s from /usr/lib/python3, and picamera2 imports\n' "$numpy_version"
    return
  fi
  "$VENV/bin/python" - <<'EOF' || die "the venv does not see the system numpy and picamera2 (see above)"
import numpy
assert numpy.__file__.startswith("/usr/lib/python3/"), f"numpy is shadowed by {numpy.__file__}"
import picamera2  # noqa: F401
print(f"    numpy {numpy.__version__} from the system, picamera2 imports")
EOF
}

# A model that cannot be fetched (no network, a bad copy) does not stop the installation: the
# kiosk runs its labelled demo without one, and the operator is told how to add it afterwards.
install_model() {
  say "pose model: fetching into $MODEL_DIR and checking its sha256"
  local from=()
  [[ -n $MODEL_FROM ]] && from=(--from "$MODEL_FROM")
  if ! run "$VENV/bin/hinge-kiosk" models fetch "${from[@]}" --dest "$MODEL_DIR"; then
    MODEL_MISSING=1
    warn "no pose model installed (the reason is above); the kiosk shows its demo until there is one"
  fi
}

model_hint() {
  warn "installed without the pose model: the kiosk runs its demo. Add the model, then restart:"
  warn "  sudo $VENV/bin/hinge-kiosk models fetch --dest $MODEL_DIR   (or --from a folder holding it)"
  warn "  sudo systemctl restart $UNIT"
}

# First install only: a commented template. The operator's file is never overwritten, only checked.
install_site_config() {
  if [[ -e $CONF_FILE ]]; then
    say "site config $CONF_FILE: keeping the operator's file"
    if ((!DRY_RUN)) && ! "$VENV/bin/hinge-kiosk" config check "$CONF_FILE"; then
      warn "$CONF_FILE has problems (listed above); the kiosk shows them and uses defaults for those keys"
    fi
    return
  fi
  say "site config $CONF_FILE: writing a commented template"
  if ((DRY_RUN)); then
    printf '+ %s config template > %s\n' "$VENV/bin/hinge-kiosk" "$CONF_FILE"
    return
  fi
  "$VENV/bin/hinge-kiosk" config template | write_file "$CONF_FILE" 0644
}

install_udev_rule() {
  say "udev rule $UDEV_RULE: DMA heaps for the video group"
  run install -m 0644 "$REPO/systemd/99-hinge-kiosk.rules" "$UDEV_RULE"
  run udevadm control --reload-rules
  run udevadm trigger --subsystem-match=dma_heap
}

install_unit() {
  say "systemd unit $UNIT_DIR/$UNIT"
  run install -m 0644 "$REPO/systemd/$UNIT" "$UNIT_DIR/$UNIT"
  # Earlier versions added an exponential restart back-off. systemd never resets the restart count
  # of a unit that always restarts, so after six restarts since boot every one waited 5 minutes.
  local backoff=$UNIT_DIR/$UNIT.d/restart-backoff.conf
  if [[ -e $backoff ]]; then
    say "removing $backoff: restarts come 10 s after a failure again"
    run rm -f "$backoff"
    run rmdir --ignore-fail-on-non-empty "$UNIT_DIR/$UNIT.d"
  fi
  run systemctl daemon-reload
}

start_service() {
  run systemctl enable "$UNIT"
  if systemctl is-active --quiet "$UNIT" 2>/dev/null; then
    say "restarting $UNIT on the new version"
    run systemctl restart "$UNIT" || service_failed
  else
    say "starting $UNIT (it takes over the screen on tty1)"
    run systemctl start "$UNIT" || service_failed
  fi
}

service_failed() {
  journalctl -u "$UNIT" -n 40 --no-pager >&2 || true
  die "$UNIT did not start; it stays enabled and tries again every 10 s. The log is above (exit status 2: \
no screen yet, switched off or unplugged), and docs/troubleshooting.md covers the usual causes"
}

# Read-only checks that point at the usual set-up mistakes before anyone stares at a black screen.
hardware_hints() {
  compgen -G '/dev/dri/card*' >/dev/null ||
    warn "no /dev/dri/card*: the KMS display driver is off; add dtoverlay=vc4-kms-v3d to /boot/firmware/config.txt"
  # /dev/video* always exists on a Pi (the ISP and the codecs): ask libcamera for cameras instead.
  if command -v rpicam-hello >/dev/null; then
    # Captured first: `grep -q` stops reading at the first camera, and rpicam-hello, still writing,
    # would die of SIGPIPE, which pipefail reports as no camera.
    local cameras
    cameras=$(rpicam-hello --list-cameras 2>/dev/null || true)
    grep -q '^ *[0-9] *:' <<<"$cameras" ||
      warn "libcamera lists no camera: check the ribbon cable and camera_auto_detect=1 in /boot/firmware/config.txt (a USB camera is fine too)"
  fi
  return 0
}

main() {
  # Whatever root's umask, the venv, model and unit must be readable by the service's user.
  umask 022
  parse_args "$@"
  ((DRY_RUN)) && say "dry run: showing the steps; nothing on this system is changed"
  preflight
  install_packages
  create_user
  create_dirs
  install_venv
  install_model
  install_site_config
  install_udev_rule
  install_unit
  start_service
  hardware_hints
  say "done. Status: systemctl status $UNIT   Log: journalctl -u $UNIT -f"
  say "Settings: $CONF_FILE (then sudo systemctl restart $UNIT)   History: sudo $VENV/bin/hinge-kiosk history"
  if ((MODEL_MISSING)); then
    model_hint
    exit 1
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
