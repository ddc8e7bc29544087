"""The four task models, each a plain ``nn.Module`` with its dataclass config beside it.

``MODELS[name] = (ConfigClass, build)``; the pipeline builds ``build(config, ...)`` from it: the model class
itself, or for the classifier a function that returns one Classifier or an Ensemble of them (``model.members``).
"""
from __future__ import annotations

from textrnn.models.classifier import Classifier, ClassifierConfig, Ensemble, build_classifier
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.models.recurrent import CELLS, Recurrent
from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.models.tagger import Tagger, TaggerConfig

MODELS = {
    "classifier": (ClassifierConfig, build_classifier),
    "tagger": (TaggerConfig, Tagger),
    "lm": (LMConfig, LanguageModel),
    "regressor": (RegressorConfig, Regressor),
}

__all__ = ["CELLS", "MODELS", "Classifier", "ClassifierConfig", "Ensemble", "LMConfig", "LanguageModel", "Recurrent",
           "Regressor", "RegressorConfig", "Tagger", "TaggerConfig"]
