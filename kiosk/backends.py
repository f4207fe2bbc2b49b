"""Pose backends: MoveNet behind one small interface, whichever TFLite runtime is installed.

A backend takes one model-sized RGB image and returns MoveNet's raw (17, 3) rows (y, x, score), y and x
normalised to the input. Everything about crops and source pixels lives in `kiosk.preprocess`, so a
backend stays a thin, swappable wrapper: LiteRT (`ai-edge-litert`, the maintained runtime with fast int8
kernels) first, `tflite-runtime` (the only choice on 32-bit Raspberry Pi OS) as fallback.

Scores differ between the two runtimes by up to ~0.4 on the same input: never tune a threshold to one.
A backend is not thread-safe; give each thread its own (the pipeline's inference thread owns one).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kiosk.body import NUM_KEYPOINTS
from kiosk.errors import ConfigError, ModelError

RUNTIMES: tuple[str, ...] = ("litert", "tflite")

# Input dtypes a MoveNet SinglePose model may declare: int8 models take uint8, Google's fp16 exports int32.
_INPUT_DTYPES = (np.uint8, np.int32)
_PREFLIGHT_TIMEOUT_S = 60.0
_BANNER = "INFO: Created TensorFlow Lite"
_FETCH_HINT = "install the verified model with `hinge-kiosk models fetch`"


# More inference threads than this gain nothing on any board the kiosk runs on (a Pi has 4 cores);
# tens of thousands make the runtime fail to map memory, blamed on the model.
MAX_THREADS = 16


def default_threads() -> int:
    """The cores this process may run on: the interpreter's best thread count on a dedicated Pi."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class PoseBackend(ABC):
    """One MoveNet SinglePose interpreter: model-sized RGB in, raw (17, 3) rows out."""

    runtime: ClassVar[str]
    input_size: int
    model_path: Path
    threads: int

    @abstractmethod
    def infer(self, rgb: np.ndarray) -> np.ndarray:
        """Run the model on uint8 (S, S, 3) RGB; return a new float32 (17, 3) array of (y, x, score)."""


class _InterpreterBackend(PoseBackend):
    """The TFLite `Interpreter` API both runtimes share; subclasses name the module to import."""

    module: ClassVar[str]
    package: ClassVar[str]

    def __init__(self, model_path: str | Path, threads: int = 0) -> None:
        self.model_path = Path(model_path)
        self.threads = threads if threads > 0 else default_threads()
        check_model_file(self.model_path)
        interpreter_cls = self._interpreter_class()
        if not _verified_by_manifest(self.model_path):
            self._preflight()
        try:
            with _without_delegate_banner():
                self._interp = interpreter_cls(model_path=str(self.model_path), num_threads=self.threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"{self.model_path}: {self.runtime} cannot load it as a TFLite model ({_first_line(exc)}); "
                f"{_FETCH_HINT}"
            ) from None
        inp, out = self._validate(self._interp.get_input_details(), self._interp.get_output_details())
        self._input_index = int(inp["index"])
        self._output_index = int(out["index"])
        self.input_size = int(inp["shape"][1])
        # Preallocated model input: one copy per frame into it, whatever the model's input dtype.
        self._input = np.zeros((1, self.input_size, self.input_size, 3), inp["dtype"])

    def _preflight(self) -> None:
        """Extra checks before loading a file the manifest does not vouch for (none by default)."""

    @classmethod
    def _interpreter_class(cls) -> Any:
        try:
            return importlib.import_module(cls.module).Interpreter
        except ImportError:
            raise ModelError(
                f"pose runtime '{cls.runtime}' is not installed: pip install {cls.package}, "
                "or choose another with --runtime (auto picks whichever is installed)"
            ) from None

    def _validate(self, inputs: list[dict], outputs: list[dict]) -> tuple[dict, dict]:
        """Refuse anything that is not a single-person MoveNet, naming what the file has instead."""
        name = self.model_path
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{name}: has {len(inputs)} input(s) and {len(outputs)} output(s), expected 1 and 1 "
                f"(a MoveNet SinglePose model); {_FETCH_HINT}"
            )
        inp, out = inputs[0], outputs[0]
        shape = [int(v) for v in inp["shape"]]
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2] or shape[1] < 32:
            raise ModelError(
                f"{name}: input shape is {shape}, expected [1, S, S, 3] (a MoveNet SinglePose model); "
                f"{_FETCH_HINT}"
            )
        if np.dtype(inp["dtype"]) not in [np.dtype(d) for d in _INPUT_DTYPES]:
            raise ModelError(
                f"{name}: input dtype is {np.dtype(inp['dtype']).name}, expected uint8 or int32 "
                f"(a MoveNet SinglePose model); {_FETCH_HINT}"
            )
        oshape = [int(v) for v in out["shape"]]
        if oshape[-2:] != [NUM_KEYPOINTS, 3] or int(np.prod(oshape)) != NUM_KEYPOINTS * 3:
            raise ModelError(
                f"{name}: output shape is {oshape}, expected [1, 1, 17, 3] (MoveNet SinglePose; "
                f"MultiPose and other models are not supported); {_FETCH_HINT}"
            )
        if np.dtype(out["dtype"]) != np.float32:
            raise ModelError(
                f"{name}: output dtype is {np.dtype(out['dtype']).name}, expected float32; {_FETCH_HINT}"
            )
        return inp, out

    def infer(self, rgb: np.ndarray) -> np.ndarray:
        s = self.input_size
        if rgb.shape != (s, s, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"infer() needs uint8 ({s}, {s}, 3) RGB, got {rgb.dtype} {rgb.shape}")
        np.copyto(self._input[0], rgb, casting="unsafe")
        self._interp.set_tensor(self._input_index, self._input)
        self._interp.invoke()  # releases the GIL: decode and display threads keep running
        return self._interp.get_tensor(self._output_index).reshape(NUM_KEYPOINTS, 3).astype(np.float32)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({str(self.model_path)!r}, threads={self.threads}, input={self.input_size})"


class LiteRTBackend(_InterpreterBackend):
    """Google's LiteRT (`ai-edge-litert`): wheels for x86_64 and aarch64, fast XNNPACK int8 kernels."""

    runtime = "litert"
    module = "ai_edge_litert.interpreter"
    package = "ai-edge-litert"


class TFLiteBackend(_InterpreterBackend):
    """The legacy `tflite-runtime` (needs numpy<2): the fallback for 32-bit Raspberry Pi OS."""

    runtime = "tflite"
    module = "tflite_runtime.interpreter"
    package = "'tflite-runtime>=2.14' 'numpy<2'"

    def _preflight(self) -> None:
        """Load an unlisted file in a child process first, exactly as it will be loaded here:
        tflite-runtime does not verify the flatbuffer, and a damaged model can crash the interpreter
        with a segfault instead of raising. Only a file the child loaded cleanly is loaded here."""
        code = (
            "import sys; from tflite_runtime.interpreter import Interpreter; "
            "Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2])).allocate_tensors()"
        )
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code, str(self.model_path), str(self.threads)],
                capture_output=True,
                text=True,
                timeout=_PREFLIGHT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ModelError(
                f"{self.model_path}: tflite-runtime took over {_PREFLIGHT_TIMEOUT_S:.0f} s to load it; "
                f"{_FETCH_HINT}"
            ) from None
        if proc.returncode < 0:
            raise ModelError(
                f"{self.model_path}: tflite-runtime crashed loading it (signal {-proc.returncode}): the "
                f"file is corrupt or not a TFLite model; {_FETCH_HINT}"
            )
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln and not ln.startswith(_BANNER)]
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            raise ModelError(
                f"{self.model_path}: tflite cannot load it as a TFLite model ({reason}); {_FETCH_HINT}"
            )


_BACKENDS: dict[str, type[_InterpreterBackend]] = {"litert": LiteRTBackend, "tflite": TFLiteBackend}


def runtime_available(runtime: str) -> bool:
    """Whether `runtime`'s interpreter module imports here (tests parametrise over this)."""
    try:
        importlib.import_module(_BACKENDS[runtime].module)
    except ImportError:
        return False
    return True


def available_runtimes() -> list[str]:
    """The installed runtimes, in preference order."""
    return [r for r in RUNTIMES if runtime_available(r)]


def check_model_file(path: Path) -> None:
    """Raise `ModelError` unless `path` is a readable file carrying the TFLite flatbuffer identifier.

    Checked before the runtime sees the file so a wrong or truncated download gets our message, and the
    native loader never has to cope with arbitrary bytes.
    """
    if not path.exists():
        raise ModelError(f"{path}: model file not found; {_FETCH_HINT}")
    if not path.is_file():
        raise ModelError(f"{path}: is not a file; pass the .tflite file itself or {_FETCH_HINT}")
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model ({exc.strerror}); check its permissions") from None
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite model (corrupt or incomplete download); {_FETCH_HINT}")


def open_backend(model_path: str | Path, runtime: str = "auto", threads: int = 0) -> PoseBackend:
    """Open `model_path` on `runtime` ("auto": LiteRT if installed, else tflite-runtime).

    `threads` <= 0 means one per available core.
    """
    if runtime == "auto":
        installed = available_runtimes()
        if not installed:
            raise ModelError(
                f"no pose runtime is installed: pip install {LiteRTBackend.package} (64-bit OS), or on "
                f"32-bit Raspberry Pi OS pip install {TFLiteBackend.package} (docs/install-pi.md)"
            )
        runtime = installed[0]
    if runtime not in _BACKENDS:
        raise ConfigError(f"unknown pose runtime {runtime!r}: use one of auto, {', '.join(RUNTIMES)}")
    return _BACKENDS[runtime](model_path, threads)


def _verified_by_manifest(path: Path) -> bool:
    """True when `path` is a manifest model whose sha256 matches; `ModelError` when it does not match."""
    from kiosk.models import spec_for_file, verify

    spec = spec_for_file(path)
    if spec is None:
        return False
    verify(path, spec)
    return True


@contextlib.contextmanager
def _without_delegate_banner() -> Iterator[None]:
    """Drop the runtime's "INFO: Created TensorFlow Lite XNNPACK delegate" line, which its C++ code
    writes straight to file descriptor 2 on every load; anything else written meanwhile is passed on."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith(_BANNER):
                    sys.stderr.write(line)
            sys.stderr.flush()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
