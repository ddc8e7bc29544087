"""textrnn: from raw text to trained recurrent networks and back.

Names are imported lazily so that ``import textrnn`` (and ``textrnn --help``) stays fast: torch, gensim and
sentencepiece load only when a name that needs them is used.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Vocab": "textrnn.vocab",
    "LabelVocab": "textrnn.vocab",
    "one_hot": "textrnn.vocab",
    "CharTokenizer": "textrnn.tokenize",
    "WordTokenizer": "textrnn.tokenize",
    "SentencePieceTokenizer": "textrnn.tokenize",
    "Corpus": "textrnn.corpus",
    "Example": "textrnn.corpus",
    "load_corpus": "textrnn.corpus",
    "Pipeline": "textrnn.pipeline",
    "load": "textrnn.pipeline",
    "TextrnnError": "textrnn.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'textrnn' has no attribute {name!r}")
