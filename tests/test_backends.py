"""Pose backends: both runtimes behind one interface, and a clear `ModelError` for every bad model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiosk import backends
from kiosk.backends import (
    LiteRTBackend,
    TFLiteBackend,
    available_runtimes,
    default_threads,
    open_backend,
)
from kiosk.errors import ConfigError, ModelError


def test_infer_returns_fixed_shape_rows_normalised_to_the_input(model_path: Path, runtime: str) -> None:
    backend = open_backend(model_path, runtime, threads=1)
    assert backend.runtime == runtime
    assert backend.input_size == 192
    rgb = np.random.default_rng(0).integers(0, 256, (192, 192, 3), dtype=np.uint8)
    first = backend.infer(rgb)
    second = backend.infer(rgb)
    assert first.shape == (17, 3) and first.dtype == np.float32
    assert np.isfinite(first).all()
    assert ((first >= -0.5) & (first <= 1.5)).all()  # y, x normalised; scores in [0, 1]
    assert first is not second  # a new array each call: results can be kept across frames
    np.testing.assert_array_equal(first, second)  # deterministic


def test_the_runtimes_delegate_banner_is_kept_off_stderr(
    model_path: Path, runtime: str, capfd: pytest.CaptureFixture
) -> None:
    open_backend(model_path, runtime, threads=1)
    assert "XNNPACK" not in capfd.readouterr().err


def test_threads_default_to_the_available_cores(model_path: Path, runtime: str) -> None:
    assert open_backend(model_path, runtime).threads == default_threads() >= 1
    assert open_backend(model_path, runtime, threads=1).threads == 1


def test_infer_refuses_a_wrong_input_shape(model_path: Path, runtime: str) -> None:
    backend = open_backend(model_path, runtime, threads=1)
    with pytest.raises(ValueError, match="192"):
        backend.infer(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError):
        backend.infer(np.zeros((192, 192, 3), np.float32))


def test_auto_prefers_litert(model_path: Path) -> None:
    installed = available_runtimes()
    if not installed:
        pytest.skip("no pose runtime installed")
    assert open_backend(model_path, "auto", threads=1).runtime == installed[0]
    if "litert" in installed:
        assert installed[0] == "litert"


def test_missing_model_names_the_file_and_the_fetch_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tflite"
    with pytest.raises(ModelError, match="hinge-kiosk models fetch") as info:
        open_backend(missing)
    assert str(missing) in str(info.value)


def test_a_folder_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a file"):
        open_backend(tmp_path)


def test_a_file_that_is_not_tflite_is_refused_before_the_runtime_sees_it(tmp_path: Path) -> None:
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"<html>Sign in to Kaggle</html>" * 10)
    with pytest.raises(ModelError, match="not a TFLite model"):
        open_backend(bogus)
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="not a TFLite model"):
        open_backend(empty)


def test_truncated_and_corrupt_models_raise_model_error_not_a_crash(
    model_path: Path, runtime: str, tmp_path: Path
) -> None:
    data = model_path.read_bytes()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(data[:100_000])
    with pytest.raises(ModelError, match=r"truncated\.tflite"):
        open_backend(truncated, runtime)
    # Scattered byte damage past the header: tflite-runtime would segfault on this without the preflight.
    damaged = bytearray(data)
    rng = np.random.default_rng(1)
    for i in range(2000, len(damaged), 997):
        damaged[i] = int(rng.integers(0, 256))
    garbled = tmp_path / "garbled.tflite"
    garbled.write_bytes(bytes(damaged))
    with pytest.raises(ModelError, match=r"garbled\.tflite"):
        open_backend(garbled, runtime)


def test_a_damaged_copy_of_the_manifest_model_fails_its_checksum(model_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / model_path.name
    shutil.copyfile(model_path, copy)
    with copy.open("r+b") as f:
        f.seek(5000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="sha256"):
        open_backend(copy)


def test_unknown_runtime_is_a_config_error(model_path: Path) -> None:
    with pytest.raises(ConfigError, match="auto, litert, tflite"):
        open_backend(model_path, "onnx")


def test_a_missing_runtime_says_what_to_install(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LiteRTBackend, "module", "no_such_module_for_tests")
    with pytest.raises(ModelError, match="pip install ai-edge-litert"):
        open_backend(model_path, "litert")
    monkeypatch.setattr(TFLiteBackend, "module", "no_such_module_for_tests")
    with pytest.raises(ModelError, match="no pose runtime is installed"):
        open_backend(model_path, "auto")


# ------------------------------------------------------------------------ models of the wrong shape


@pytest.fixture(scope="module")
def schema() -> object:
    """The TFLite flatbuffer schema (shipped with ai-edge-litert) to build small test models."""
    return pytest.importorskip(
        "ai_edge_litert.schema_py_generated", reason="building test models needs ai-edge-litert"
    )


def _tiny_model(
    schema: object, in_shape: list[int], in_type: str, out_shape: list[int], out_type: str
) -> bytes:
    """A one-op (CAST) TFLite model with the given input and output tensors."""
    import flatbuffers

    S: Any = schema
    model = S.ModelT()
    model.version = 3
    model.buffers = [S.BufferT()]

    def tensor(shape: list[int], ttype: str, name: str) -> object:
        t = S.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), getattr(S.TensorType, ttype), 0, name
        return t

    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.CAST
    code.version = 1
    op = S.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = S.SubGraphT()
    graph.tensors = [tensor(in_shape, in_type, "in"), tensor(out_shape, out_type, "out")]
    graph.operators, graph.inputs, graph.outputs = [op], [0], [1]
    model.operatorCodes, model.subgraphs = [code], [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize(
    ("in_shape", "in_type", "out_shape", "out_type", "message"),
    [
        ([1, 64, 48, 3], "UINT8", [1, 64, 48, 3], "FLOAT32", "input shape"),
        ([1, 64, 64, 1], "UINT8", [1, 64, 64, 1], "FLOAT32", "input shape"),
        ([1, 64, 64, 3], "FLOAT32", [1, 64, 64, 3], "FLOAT32", "input dtype"),
        ([1, 64, 64, 3], "UINT8", [1, 64, 64, 3], "FLOAT32", "output shape"),
        ([1, 51, 1, 1], "UINT8", [1, 51, 1, 1], "FLOAT32", "input shape"),
    ],
)
def test_models_of_the_wrong_shape_are_refused_with_what_they_have(
    runtime: str,
    schema: object,
    tmp_path: Path,
    in_shape: list[int],
    in_type: str,
    out_shape: list[int],
    out_type: str,
    message: str,
) -> None:
    path = tmp_path / "other.tflite"
    path.write_bytes(_tiny_model(schema, in_shape, in_type, out_shape, out_type))
    with pytest.raises(ModelError, match=message) as info:
        open_backend(path, runtime)
    assert "other.tflite" in str(info.value)
    assert "hinge-kiosk models fetch" in str(info.value)


def test_the_tiny_model_builder_makes_loadable_models(runtime: str, schema: object, tmp_path: Path) -> None:
    """Guards the test above: its models fail validation, not loading."""
    path = tmp_path / "cast.tflite"
    path.write_bytes(_tiny_model(schema, [1, 64, 64, 3], "UINT8", [1, 64, 64, 3], "FLOAT32"))
    interpreter = backends._BACKENDS[runtime]._interpreter_class()(model_path=str(path))
    interpreter.allocate_tensors()
    assert list(interpreter.get_input_details()[0]["shape"]) == [1, 64, 64, 3]
