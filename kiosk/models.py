"""Pose model files: the manifest, where models live, and a fetch that refuses unverified bytes.

The repository ships `models/manifest.toml` (name, official URL, sha256, input size, licence) and never
the weights. `hinge-kiosk models fetch` downloads each model, or copies it from a local folder with
`--from DIR` (CI and offline Pis), into a temporary file beside the destination and renames it into
place only once its sha256 matches, so an interrupted or tampered download can never be loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

from kiosk.errors import ModelError, file_in_the_way

ENV_MODEL_DIR = "HINGE_KIOSK_MODEL_DIR"
# Where tools/install-pi.sh puts the model (the unit sets HINGE_KIOSK_MODEL_DIR to it).
INSTALLED_MODEL_DIR = Path("/var/lib/hinge-kiosk/models")
FETCH_COMMAND = "hinge-kiosk models fetch"
_CHECKOUT = Path(__file__).resolve().parent.parent
_CHUNK = 1 << 16
_DOWNLOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    file: str
    url: str
    sha256: str
    size: int
    input_size: int
    licence: str
    page: str = ""
    description: str = ""
    owner: str = ""


def manifest_path() -> Path:
    """`models/manifest.toml` of the source checkout, else the copy packaged inside `kiosk`."""
    checkout = _CHECKOUT / "models" / "manifest.toml"
    if checkout.is_file():
        return checkout
    packaged = Path(str(resources.files("kiosk") / "models_manifest.toml"))
    if packaged.is_file():
        return packaged
    raise ModelError(f"model manifest not found (looked for {checkout}); reinstall hinge-mirror")


def load_manifest(path: Path | None = None) -> list[ModelSpec]:
    """Parse the manifest; a malformed entry is a `ModelError` naming the field."""
    p = path or manifest_path()
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{p}: unreadable model manifest ({exc}); restore it from git") from None
    specs = []
    for i, entry in enumerate(doc.get("model", [])):
        try:
            spec = ModelSpec(
                name=str(entry["name"]),
                file=str(entry["file"]),
                url=str(entry["url"]),
                sha256=str(entry["sha256"]).lower(),
                size=int(entry["size"]),
                input_size=int(entry["input_size"]),
                licence=str(entry["licence"]),
                page=str(entry.get("page", "")),
                description=str(entry.get("description", "")),
                owner=str(entry.get("owner", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{p}: model entry {i + 1} is missing or has a bad field ({exc})") from None
        if len(spec.sha256) != 64 or Path(spec.file).name != spec.file:
            raise ModelError(f"{p}: model {spec.name!r} needs a 64-digit sha256 and a bare file name")
        specs.append(spec)
    if not specs:
        raise ModelError(f"{p}: the manifest lists no [[model]]; restore it from git")
    return specs


def default_spec() -> ModelSpec:
    """The model the kiosk runs: the manifest's first entry."""
    return load_manifest()[0]


def _is_source_checkout() -> bool:
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "models").is_dir()


def default_model_dir() -> Path:
    """`$HINGE_KIOSK_MODEL_DIR`, else the checkout's `models/`, else the installed kiosk's folder (where
    the service looks, so `models fetch` in a shell on the Pi installs where it is used), else
    `$XDG_DATA_HOME/hinge-kiosk/models`."""
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        try:
            return Path(env).expanduser()
        except RuntimeError as exc:  # "~name/..." for a user that does not exist
            why = str(exc).rstrip(".")
            raise ModelError(f"{ENV_MODEL_DIR}={env}: {why}; give an absolute path") from None
    if _is_source_checkout():
        return _CHECKOUT / "models"
    if INSTALLED_MODEL_DIR.is_dir():
        return INSTALLED_MODEL_DIR
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "hinge-kiosk" / "models"


def find_model(model_dir: str | Path | None = None) -> Path:
    """Path of the installed default model; `ModelError` with the install command when it is missing."""
    spec = default_spec()
    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    path = folder / spec.file
    blocker = file_in_the_way(folder)
    if blocker is not None:
        raise ModelError(f"model folder {folder}: {blocker} is a file, not a folder; check pose.model_dir")
    if not path.is_file():
        dest = "" if model_dir is None else f" --dest {folder}"
        raise ModelError(
            f"pose model {spec.file} is not installed in {folder}; install it with `{FETCH_COMMAND}{dest}` "
            f"(offline: `{FETCH_COMMAND} --from DIR{dest}` with a folder holding a copy)"
        )
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def spec_for_file(path: Path) -> ModelSpec | None:
    """The manifest entry whose file name `path` has, if any (the manifest may be absent: then None)."""
    try:
        specs = load_manifest()
    except ModelError:
        return None
    return next((s for s in specs if s.file == path.name), None)


def verify(path: str | Path, spec: ModelSpec | None = None) -> str:
    """Check `path` against its manifest sha256; return the digest, raise `ModelError` on a mismatch."""
    p = Path(path)
    spec = spec or spec_for_file(p)
    if spec is None:
        raise ModelError(f"{p}: not a model listed in {manifest_path()}; nothing to verify it against")
    if not p.is_file():
        raise ModelError(f"{p}: not installed; install it with `{FETCH_COMMAND}`")
    try:
        digest = sha256_file(p)
    except OSError as exc:
        raise ModelError(f"{p}: cannot read it ({exc.strerror}); check its permissions") from None
    if digest != spec.sha256:
        raise ModelError(
            f"{p}: sha256 {digest} does not match the manifest's {spec.sha256} (corrupt or replaced "
            f"file); delete it and run `{FETCH_COMMAND}`"
        )
    return digest


# ---------------------------------------------------------------------------------------------- fetch


def _copy_verified(chunks: Iterator[bytes], spec: ModelSpec, dest_dir: Path, origin: str) -> Path:
    """Stream `chunks` into a temp file in `dest_dir`; rename it to `spec.file` only if the hash matches."""
    blocker = file_in_the_way(dest_dir)
    if blocker is not None:
        raise ModelError(f"cannot install into {dest_dir}: {blocker} is a file, not a folder")
    dest_dir.mkdir(parents=True, exist_ok=True)
    limit = max(spec.size * 2, 1 << 20)
    h = hashlib.sha256()
    n = 0
    tmp = dest_dir / f".{spec.file}.{secrets.token_hex(4)}.part"
    # O_EXCL: never write through a planted symlink; 0o644 (minus umask) like any installed file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                n += len(chunk)
                if n > limit:
                    raise ModelError(
                        f"{origin}: more than {limit} bytes, but {spec.file} is {spec.size}; refusing it "
                        "(wrong URL or a web page instead of the model)"
                    )
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if digest != spec.sha256:
            raise ModelError(
                f"{origin}: sha256 {digest} ({n} bytes) does not match the manifest's {spec.sha256} "
                f"({spec.size} bytes); refusing to install {spec.file}. Download it again, or check that "
                "the source really is the official file"
            )
        final = dest_dir / spec.file
        os.replace(tmp, final)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from iter(lambda: f.read(_CHUNK), b"")


def _find_in_folder(spec: ModelSpec, folder: Path) -> Path:
    """`spec.file` in `folder`, else any `*.tflite` there with the right hash (a renamed download)."""
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such folder; --from needs the folder that holds {spec.file}")
    named = folder / spec.file
    if named.is_file():
        return named
    for candidate in sorted(folder.glob("*.tflite")):
        if not candidate.is_file():  # a dangling link or a folder: nothing to read
            continue
        if candidate.stat().st_size == spec.size and sha256_file(candidate) == spec.sha256:
            return candidate
    raise ModelError(
        f"{folder}: holds neither {spec.file} nor any .tflite with its sha256; put the downloaded model "
        f"there (from {spec.page or spec.url}) or drop --from to download it"
    )


def _url_chunks(url: str, progress: Callable[[int, int], None] | None) -> Iterator[bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "hinge-kiosk-models-fetch"})
    try:
        response = urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ModelError(
            f"cannot download {url} ({reason}); check the network, or download the file on another "
            f"machine and run `{FETCH_COMMAND} --from DIR`"
        ) from None
    with response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        try:
            while chunk := response.read(_CHUNK):
                done += len(chunk)
                if progress:
                    progress(done, total)
                yield chunk
        except (OSError, urllib.error.URLError) as exc:
            raise ModelError(
                f"download of {url} broke off after {done} bytes ({exc}); run the fetch again"
            ) from None


def fetch(
    spec: ModelSpec,
    dest_dir: Path,
    source_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, str]:
    """Install `spec` into `dest_dir` from `source_dir` or its URL; return (path, what was done).

    An installed file that already verifies is left alone; one that does not is replaced.
    """
    final = dest_dir / spec.file
    try:
        if final.is_file() and final.stat().st_size == spec.size and sha256_file(final) == spec.sha256:
            return final, "already installed"
        if source_dir is not None:
            src = _find_in_folder(spec, source_dir)
            return _copy_verified(_file_chunks(src), spec, dest_dir, str(src)), f"copied from {src}"
        chunks = _url_chunks(spec.url, progress)
        return _copy_verified(chunks, spec, dest_dir, spec.url), f"downloaded {spec.url}"
    except OSError as exc:
        raise ModelError(
            f"{exc.filename or dest_dir}: {exc.strerror or exc}; install somewhere writable with --dest DIR "
            f"(and point ${ENV_MODEL_DIR} at it)"
        ) from None


# ------------------------------------------------------------------------------------------------ CLI


def _progress_printer(stream: IO[str]) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        text = f"{done / 1e6:5.1f} MB" + (f" / {total / 1e6:.1f} MB" if total else "")
        stream.write(f"\r  {text}")
        stream.flush()

    return show


def _cmd_fetch(args: argparse.Namespace) -> int:
    dest = Path(args.dest) if args.dest else default_model_dir()
    source = Path(args.source) if args.source else None
    progress = _progress_printer(sys.stderr) if sys.stderr.isatty() and source is None else None
    for spec in load_manifest():
        path, done = fetch(spec, dest, source, progress)
        if progress:
            sys.stderr.write("\n")
        print(f"{spec.name}: {path} ({done}; sha256 verified; licence {spec.licence})")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else default_model_dir()
    for spec in load_manifest():
        path = folder / spec.file
        if not path.is_file():
            raise ModelError(f"{path}: not installed; install it with `{FETCH_COMMAND}`")
        verify(path, spec)
        print(f"{spec.name}: {path} OK (sha256 {spec.sha256[:16]}...)")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else default_model_dir()
    print(f"model folder: {folder}")
    for spec in load_manifest():
        path = folder / spec.file
        if not path.is_file():
            state = "not installed"
        else:  # a 3 MB hash: cheap enough to say "installed" only of a file that would load
            state = "installed" if sha256_file(path) == spec.sha256 else "damaged (run `models fetch`)"
        print(f"{spec.name}  {spec.file}  input {spec.input_size}  {spec.licence}  {state}")
        print(f"    {spec.description}" + (f", by {spec.owner}" if spec.owner else ""))
        print(f"    {spec.page or spec.url}")
    return 0


def register(subparsers: Any) -> None:
    """Add `models fetch | verify | list`."""
    parser = subparsers.add_parser("models", help="install and check the pose model")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    p = sub.add_parser("fetch", help="download (or copy with --from) and verify the pose model")
    p.add_argument(
        "--from", dest="source", metavar="DIR", help="copy from this folder instead of downloading"
    )
    p.add_argument(
        "--dest", metavar="DIR", help=f"install here (default: ${ENV_MODEL_DIR} or the model folder)"
    )
    p.set_defaults(func=_cmd_fetch)
    p = sub.add_parser("verify", help="check installed models against the manifest's sha256")
    p.add_argument("--dir", metavar="DIR", help="model folder to check (default: the model folder)")
    p.set_defaults(func=_cmd_verify)
    p = sub.add_parser("list", help="show the manifest and what is installed")
    p.add_argument("--dir", metavar="DIR", help="model folder to look in (default: the model folder)")
    p.set_defaults(func=_cmd_list)
