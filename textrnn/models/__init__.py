"""The four task models, each a plain ``nn.Module`` with its dataclass config beside it.

``MODELS[name] = (ConfigClass, ModelClass)``; the pipeline builds ``ModelClass(config, ...)`` from it.
"""
from __future__ import annotations

from textrnn.models.classifier import Classifier, ClassifierConfig
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.models.recurrent import CELLS, Recurrent
from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.models.tagger import Tagger, TaggerConfig

MODELS = {
    "classifier": (ClassifierConfig, Classifier),
    "tagger": (TaggerConfig, Tagger),
    "lm": (LMConfig, LanguageModel),
    "regressor": (RegressorConfig, Regressor),
}

__all__ = ["CELLS", "MODELS", "Classifier", "ClassifierConfig", "LMConfig", "LanguageModel", "Recurrent",
           "Regressor", "RegressorConfig", "Tagger", "TaggerConfig"]
