"""The four task models, each a plain ``nn.Module`` with its dataclass config beside it.

``MODELS[name] = (ConfigClass, build)``; the pipeline builds ``build(config, ...)`` from it: the model class
itself, or for the classifier and the tagger a function that returns one model or an ensemble of them
(``model.members``).
"""
from __future__ import annotations

from textrnn.models.classifier import Classifier, ClassifierConfig, build_classifier
from textrnn.models.ensemble import Ensemble
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.models.recurrent import CELLS, Recurrent
from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.models.tagger import Tagger, TaggerConfig, TaggerEnsemble, build_tagger

MODELS = {
    "classifier": (ClassifierConfig, build_classifier),
    "tagger": (TaggerConfig, build_tagger),
    "lm": (LMConfig, LanguageModel),
    "regressor": (RegressorConfig, Regressor),
}

__all__ = ["CELLS", "MODELS", "Classifier", "ClassifierConfig", "Ensemble", "LMConfig", "LanguageModel", "Recurrent",
           "Regressor", "RegressorConfig", "Tagger", "TaggerConfig", "TaggerEnsemble"]
