"""Model manifest, model folder and the verified fetch (download logic tested on a loopback server)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import models
from kiosk.cli import main
from kiosk.errors import ModelError
from kiosk.models import ModelSpec, default_model_dir, fetch, find_model, load_manifest, verify

REPO = Path(__file__).resolve().parent.parent
MOVENET_SHA256 = "cd7cc22fa946e5d146a7b98d496853e1923e22828d3972d579973f27f91bb105"


def _spec(payload: bytes, url: str = "http://127.0.0.1:1/none", file: str = "toy.tflite") -> ModelSpec:
    return ModelSpec(
        name="toy",
        file=file,
        url=url,
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        input_size=192,
        licence="Apache-2.0",
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_the_manifest_names_the_official_movenet_with_its_hash() -> None:
    (spec,) = load_manifest()
    assert spec.file == "movenet_singlepose_lightning_int8_v4.tflite"
    assert spec.sha256 == MOVENET_SHA256
    assert spec.input_size == 192
    assert spec.licence == "Apache-2.0"
    assert spec.url.startswith("https://") and "lightning/tflite/int8/4" in spec.url
    assert spec.page.startswith("https://www.kaggle.com/models/google/movenet")


def test_no_model_file_is_tracked_by_git() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "models"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == ["models/manifest.toml"] or tracked == []  # [] before the first commit
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "models/movenet_singlepose_lightning_int8_v4.tflite"], cwd=REPO
    )
    assert ignored.returncode == 0


def test_model_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HINGE_KIOSK_MODEL_DIR", str(tmp_path / "env"))
    assert default_model_dir() == tmp_path / "env"
    monkeypatch.delenv("HINGE_KIOSK_MODEL_DIR")
    assert default_model_dir() == REPO / "models"  # running from the source checkout
    monkeypatch.setattr(models, "_is_source_checkout", lambda: False)
    installed = tmp_path / "var-lib"
    installed.mkdir()
    monkeypatch.setattr(models, "INSTALLED_MODEL_DIR", installed)
    assert default_model_dir() == installed  # on an installed kiosk: where the service looks
    monkeypatch.setattr(models, "INSTALLED_MODEL_DIR", tmp_path / "not-installed")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_model_dir() == tmp_path / "xdg" / "hinge-kiosk" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_model_dir() == tmp_path / "home" / ".local" / "share" / "hinge-kiosk" / "models"


def test_find_model_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="hinge-kiosk models fetch") as info:
        find_model(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_fetch_from_a_folder_installs_and_verifies(tmp_path: Path) -> None:
    payload = os.urandom(5000)
    spec = _spec(payload)
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    (src / "toy.tflite").write_bytes(payload)
    path, done = fetch(spec, dest, src)
    assert path == dest / "toy.tflite" and path.read_bytes() == payload
    assert done.startswith("copied from")
    assert path.stat().st_mode & 0o444 == 0o444  # readable like any installed file, not 0600
    assert _leftovers(dest) == []
    assert fetch(spec, dest, src)[1] == "already installed"
    assert verify(path, spec) == spec.sha256


def test_fetch_from_a_folder_finds_a_renamed_download_by_its_hash(tmp_path: Path) -> None:
    payload = os.urandom(3000)
    (tmp_path / "4.tflite").write_bytes(payload)
    (tmp_path / "other.tflite").write_bytes(b"x" * 3000)
    (tmp_path / "0-gone.tflite").symlink_to(tmp_path / "deleted.tflite")  # looked at first, skipped
    path, _ = fetch(_spec(payload), tmp_path / "dest", tmp_path)
    assert path.read_bytes() == payload


def test_a_mismatching_copy_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    spec = _spec(b"the real model")
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    (src / "toy.tflite").write_bytes(b"something else")
    with pytest.raises(ModelError, match="does not match") as info:
        fetch(spec, dest, src)
    assert "refusing to install" in str(info.value)
    assert not (dest / "toy.tflite").exists()
    assert _leftovers(dest) == []


def test_a_corrupt_installed_file_is_replaced(tmp_path: Path) -> None:
    payload = os.urandom(2000)
    spec = _spec(payload)
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    dest.mkdir()
    (src / "toy.tflite").write_bytes(payload)
    (dest / "toy.tflite").write_bytes(b"half a downl")
    with pytest.raises(ModelError, match="sha256"):
        verify(dest / "toy.tflite", spec)
    fetch(spec, dest, src)
    assert (dest / "toy.tflite").read_bytes() == payload


def test_an_unwritable_destination_is_a_model_error(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "toy.tflite").write_bytes(b"model")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(ModelError, match="not-a-folder is a file, not a folder"):
        fetch(_spec(b"model"), blocker / "models", src)
    with pytest.raises(ModelError, match=r"not-a-folder is a file, not a folder; check pose\.model_dir"):
        find_model(blocker)


def test_from_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such folder"):
        fetch(_spec(b"x"), tmp_path / "dest", tmp_path / "absent")


# --------------------------------------------------------------------------------- download (HTTP)


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A loopback HTTP server serving `root`; yields (root, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_installs_after_the_hash_matches(http_root: tuple[Path, str], tmp_path: Path) -> None:
    root, base = http_root
    payload = os.urandom(200_000)
    (root / "model.bin").write_bytes(payload)
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "dest"
    path, done = fetch(_spec(payload, f"{base}/model.bin"), dest, progress=lambda d, t: seen.append((d, t)))
    assert path.read_bytes() == payload and done.startswith("downloaded")
    assert seen[-1] == (len(payload), len(payload))
    assert _leftovers(dest) == []


def test_a_tampered_download_is_refused_loudly(http_root: tuple[Path, str], tmp_path: Path) -> None:
    root, base = http_root
    (root / "model.bin").write_bytes(b"tampered bytes")
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="refusing to install"):
        fetch(_spec(b"genuine bytes", f"{base}/model.bin"), dest)
    assert list(dest.iterdir()) == []


def test_an_oversized_download_is_cut_off(http_root: tuple[Path, str], tmp_path: Path) -> None:
    root, base = http_root
    (root / "page.html").write_bytes(b"<html>" * 400_000)
    dest = tmp_path / "dest"
    with pytest.raises(ModelError, match="refusing"):
        fetch(_spec(b"small model", f"{base}/page.html"), dest)
    assert list(dest.iterdir()) == []


def test_http_errors_and_unreachable_hosts_suggest_the_offline_route(
    http_root: tuple[Path, str], tmp_path: Path
) -> None:
    _, base = http_root
    with pytest.raises(ModelError, match="--from DIR"):
        fetch(_spec(b"x", f"{base}/missing.bin"), tmp_path / "dest")
    with pytest.raises(ModelError, match="cannot download"):
        fetch(_spec(b"x", "http://127.0.0.1:9/closed"), tmp_path / "dest")


def test_file_urls_work_too(tmp_path: Path) -> None:
    payload = os.urandom(1000)
    (tmp_path / "m.bin").write_bytes(payload)
    path, _ = fetch(_spec(payload, (tmp_path / "m.bin").as_uri()), tmp_path / "dest")
    assert path.read_bytes() == payload


# ------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def shared_models(shared: Path) -> Path:
    folder = shared / "models"
    if not (folder / "movenet_singlepose_lightning_int8_v4.tflite").is_file():
        pytest.skip(f"no model copy in {folder}")
    return folder


def test_cli_fetch_verify_list(shared_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "models"
    assert main(["models", "fetch", "--from", str(shared_models), "--dest", str(dest)]) == 0
    assert "sha256 verified" in capsys.readouterr().out
    assert main(["models", "verify", "--dir", str(dest)]) == 0
    assert main(["models", "list", "--dir", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "installed" in out and "Apache-2.0" in out
    model = next(dest.glob("*.tflite"))
    model.write_bytes(model.read_bytes()[:100_000])  # cut short: it would not load
    assert main(["models", "list", "--dir", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "damaged" in out and " installed" not in out


def test_cli_refuses_a_wrong_file_with_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "movenet_singlepose_lightning_int8_v4.tflite").write_bytes(b"not the model")
    assert main(["models", "fetch", "--from", str(src), "--dest", str(tmp_path / "dest")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hinge-kiosk: error:") and "refusing to install" in err and "\n" not in err
    assert main(["models", "verify", "--dir", str(tmp_path / "dest")]) == 2
    assert "hinge-kiosk models fetch" in capsys.readouterr().err


def test_a_model_dir_in_the_home_of_a_user_that_does_not_exist_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HINGE_KIOSK_MODEL_DIR", "~nosuchuser-hinge/models")
    with pytest.raises(ModelError, match=r"HINGE_KIOSK_MODEL_DIR=~nosuchuser-hinge/models: .*absolute path"):
        default_model_dir()
