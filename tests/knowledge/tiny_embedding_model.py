"""A tiny sentence-transformers model made on the spot, so dense retrieval is tested with the
real library and nothing is downloaded.

A one-layer BERT (128 dimensions) with seeded random weights and a WordPiece vocabulary of
single characters (the corpus' characters: Japanese text is cut into characters by the BERT
pre-tokenizer anyway), mean pooling, and query/document prompts in its
config_sentence_transformers.json like the real Japanese models. Its rankings mean nothing,
but they are deterministic, and the files are laid out exactly as ``huggingface-cli
download`` leaves a real model.

    python tests/knowledge/tiny_embedding_model.py DIR   # writes the model to DIR
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PROMPTS = {"query": "クエリ: ", "document": "文章: "}
ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:.,?!()-"


def build(target: Path, texts: Iterable[str], *, seed: int = 7,
          prompts: dict[str, str] | None = None) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    characters = sorted({c for text in [*texts, *PROMPTS.values(), ASCII] for c in text
                         if not c.isspace()})
    vocab = {token: i for i, token in enumerate([*SPECIAL, *characters])}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=False)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=256,
                        max_position_embeddings=512)
    with tempfile.TemporaryDirectory() as backbone:
        BertModel(config).save_pretrained(backbone)
        tokenizer.save_pretrained(backbone)
        transformer = Transformer(backbone, max_seq_length=256)
        model = SentenceTransformer(
            modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean")],
            prompts=PROMPTS if prompts is None else prompts, device="cpu")
        model.save(str(target))
    return target


def corpus_texts() -> list[str]:
    """The documents of the knowledge fixtures (tests/knowledge/conftest.py), loaded under a
    name of their own: ``conftest`` is ambiguous once pytest has loaded several."""
    import importlib.util

    here = Path(__file__).parent
    sys.path[:0] = [str(here.parent)]  # conftest imports cli_support from tests/
    spec = importlib.util.spec_from_file_location("kb_fixture_documents", here / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [module.RULES, module.TRAVEL, module.FAQ]


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), corpus_texts()))  # noqa: T201
