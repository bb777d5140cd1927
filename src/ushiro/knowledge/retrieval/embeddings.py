"""Dense text embeddings from a model directory the operator supplies (optional).

Dense retrieval is off unless ``USHIRO_EMBEDDING_MODEL_DIR`` names a sentence-transformers
model directory, as ``huggingface-cli download cl-nagoya/ruri-v3-30m --local-dir D`` leaves
it on a connected machine. Nothing is ever downloaded: the directory is checked before the
library is imported (a wrong path must not turn into a request to the hub), the hub's
offline mode is forced, and the model is loaded with ``local_files_only``.

The contract every :class:`Embedder` keeps:

* ``name``: at most 64 characters, the same in every process and on every machine for the
  same model files. It covers everything that changes a passage's vector (weights,
  tokenizer, pooling, the document prefix): passage vectors are stored in the database
  under it and reused while it stays the same, and a different name gets new vectors.
* ``dimension``: the length of every vector.
* ``embed_documents(texts)``: a float32 array of shape ``(len(texts), dimension)``, row *i*
  for ``texts[i]``, every row L2-normalised (so a dot product is the cosine). A text's row
  does not depend on the other texts of the call, beyond float rounding.
* ``embed_query(text)``: a float32 vector of length ``dimension``, L2-normalised. Queries
  and documents may be embedded differently (asymmetric prompts), never compared across.
* Loads everything when it is built; afterwards it touches neither the network nor the
  database, and may be called from several threads at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ushiro.core.errors import ErrorCode, UshiroError

if TYPE_CHECKING:
    import numpy as np

    from ushiro.core.settings import Settings

SETTING = "USHIRO_EMBEDDING_MODEL_DIR"
BATCH_SIZE = 32
WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
           "pytorch_model.bin.index.json")
# Hashed into the name: what decides the vectors. Alternative exports (onnx/, openvino/)
# and model cards are left out, so copying a directory without them keeps its vectors.
_FINGERPRINTED = (".json", ".txt", ".model", ".safetensors")
_SKIPPED_DIRS = frozenset({"onnx", "openvino"})


class Embedder(Protocol):
    """See the module docstring for the contract."""

    name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray[Any, Any]: ...

    def embed_query(self, text: str) -> np.ndarray[Any, Any]: ...


def _unusable(path: Path, problem: str) -> UshiroError:
    return UshiroError(
        ErrorCode.EMBEDDING_MODEL_UNAVAILABLE,
        f"{SETTING} の「{path}」{problem}"
        "sentence-transformers 形式のモデルディレクトリ (modules.json と重みファイルを含むもの。"
        "例: 接続できるマシンで huggingface-cli download cl-nagoya/ruri-v3-30m --local-dir "
        "ruri-v3-30m として取得し、丸ごとコピーしたもの) を指定するか、設定を外して BM25 のみで"
        "検索してください。", field=SETTING)


def check_model_dir(path: Path) -> Path:
    """The resolved model directory, or an error saying what is missing. Reads only the
    file system: called before the library is imported."""
    if not path.exists():
        raise _unusable(path, "が見つかりません。")
    if not path.is_dir():
        raise _unusable(path, "はディレクトリではありません。")
    root = path.resolve()
    if not (root / "modules.json").is_file():
        snapshots = sorted(p for p in (root / "snapshots").glob("*") if p.is_dir())
        hint = f"(キャッシュの場合は {snapshots[-1]} を指定します。) " if snapshots else ""
        raise _unusable(path, f"に modules.json がありません。{hint}")
    try:
        modules = json.loads((root / "modules.json").read_text("utf-8"))
        folders = [root / str(m.get("path", "")) for m in modules]
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise _unusable(path, f"の modules.json が読めません ({error})。") from error
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise _unusable(path, f"にモジュールのディレクトリ {', '.join(missing)} がありません。")
    if not any((folder / w).is_file() for folder in folders for w in WEIGHTS) and not any(
            root.glob("*.safetensors")):
        raise _unusable(path, f"に重みファイル ({', '.join(WEIGHTS[:2])}) がありません。")
    return root


def fingerprint(root: Path, document_prefix: str | None = None) -> str:
    """``<directory name>-<digest>``: the digest covers the content of every file that decides
    the vectors, and a document prefix set in the settings."""
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and _fingerprinted(root, p))
    has_safetensors = any(p.suffix == ".safetensors" for p in files)
    if not has_safetensors:  # an older model: its weights are only in pytorch_model.bin
        files = sorted([*files, *root.rglob("pytorch_model*.bin")])
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with file.open("rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    digest.update(b"prefix\0" + repr(document_prefix).encode())
    return f"{root.name[:40]}-{digest.hexdigest()[:20]}"


def _fingerprinted(root: Path, file: Path) -> bool:
    parts = file.relative_to(root).parts
    if any(part.startswith(".") or part in _SKIPPED_DIRS for part in parts):
        return False  # .cache/ of `huggingface-cli download` holds timestamps
    return file.suffix in _FINGERPRINTED


def _offline_library() -> Any:
    """sentence_transformers, imported with the hub switched off for good."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import huggingface_hub.constants
    import sentence_transformers
    import transformers

    # The hub reads HF_HUB_OFFLINE once, at import: if anything imported it earlier, the
    # variable set above came too late, so the constant itself is set as well.
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    logging: Any = transformers.utils.logging
    logging.disable_progress_bar()  # "Loading weights" bars on the server's stderr
    return sentence_transformers


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, on the CPU unless a GPU is
    there. Queries and passages get the model's own prompts (``prompts`` of its
    config_sentence_transformers.json, where ruri keeps its Japanese query/document
    prefixes), unless a prefix is given here; the vectors are normalised by the library.

    ``documents_embedded`` and ``queries_embedded`` count the texts embedded since it was
    loaded: the expensive part of an index build is the passages it had to embed."""

    def __init__(self, path: Path, *, query_prefix: str | None = None,
                 document_prefix: str | None = None, batch_size: int = BATCH_SIZE,
                 threads: int = 1) -> None:
        self.path = check_model_dir(path)
        library = _offline_library()
        import torch

        # Measured on 2 busy cores (ruri-v3-30m's shape): a question took 12 ms with one
        # thread and 340 ms with two, which wait for each other; passages were no faster.
        torch.set_num_threads(threads)
        self._model = library.SentenceTransformer(
            str(self.path), local_files_only=True, trust_remote_code=False)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension())
        self.name = fingerprint(self.path, document_prefix)
        self.documents_embedded = 0
        self.queries_embedded = 0
        # Fast tokenizers refuse concurrent use ("Already borrowed"): one call at a time.
        self._lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode_document(
                list(texts), prompt=self.document_prefix, batch_size=self.batch_size,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            self.documents_embedded += len(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray[Any, Any]:
        import numpy as np

        with self._lock:
            vectors = self._model.encode_query(
                [text], prompt=self.query_prefix, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False)
            self.queries_embedded += 1
        return np.ascontiguousarray(vectors[0], dtype=np.float32)


_loaded: dict[tuple[Path, str | None, str | None, int], Embedder] = {}
_loading = threading.Lock()


def embedder_for(settings: Settings) -> Embedder | None:
    """The process's embedder for these settings (loaded once), or None: BM25 only."""
    if settings.embedding_model_dir is None:
        return None
    key = (settings.embedding_model_dir, settings.embedding_query_prefix,
           settings.embedding_document_prefix, settings.embedding_threads)
    with _loading:  # a model costs seconds and hundreds of MB: never load it twice
        embedder = _loaded.get(key)
        if embedder is None:
            embedder = SentenceTransformerEmbedder(
                settings.embedding_model_dir, query_prefix=settings.embedding_query_prefix,
                document_prefix=settings.embedding_document_prefix,
                threads=settings.embedding_threads)
            _loaded[key] = embedder
    return embedder
