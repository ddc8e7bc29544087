"""Evaluation figures: accuracy, per-class precision/recall/F1 and macro-F1, the confusion matrix, perplexity and
bits per character, entity-level F1 (seqeval, strict IOB2), regression errors (MSE, MAE, MAPE) and translation
scores (sacreBLEU's BLEU and chrF).

Every function returns plain Python numbers (floats and ints), so results go straight into JSON.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _as_indices(values, labels: Sequence[str] | None = None) -> np.ndarray:
    """Class indices from indices or (with ``labels``) label names; raises ValueError for an unknown name."""
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return array.astype(np.int64).reshape(-1)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError("class indices must be whole numbers")
        return array.astype(np.int64).reshape(-1)
    if labels is None:
        raise ValueError("give class indices, or labels to map label names to them")
    index = {label: i for i, label in enumerate(labels)}
    try:
        return np.array([index[str(v)] for v in array.reshape(-1)], dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"label {error.args[0]!r} is not among the labels {list(labels)[:10]}") from None


def _same_length(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")


def accuracy(y_true, y_pred) -> float:
    """The share of items predicted right (0.0 for no items)."""
    truth, predicted = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    _same_length(truth, predicted)
    return float(np.mean(truth == predicted)) if len(truth) else 0.0


def confusion_matrix(y_true, y_pred, n: int) -> np.ndarray:
    """An (n, n) int64 matrix of counts: row = true class, column = predicted class."""
    truth, predicted = _as_indices(y_true), _as_indices(y_pred)
    _same_length(truth, predicted)
    for name, values in (("y_true", truth), ("y_pred", predicted)):
        if len(values) and (values.min() < 0 or values.max() >= n):
            raise ValueError(f"{name} holds class {int(values.min() if values.min() < 0 else values.max())}, "
                             f"outside 0..{n - 1}")
    return np.bincount(truth * n + predicted, minlength=n * n).reshape(n, n).astype(np.int64)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def classification_report(y_true, y_pred, labels: Sequence[str]) -> dict:
    """``{"accuracy", "macro_f1", "per_class": {label: {"precision", "recall", "f1", "support"}}}``.

    ``y_true`` and ``y_pred`` hold class indices into ``labels`` (or the label names). A precision or recall with
    nothing to divide by is 0. ``macro_f1`` is the unweighted mean F1 over the classes that occur in ``y_true`` or
    ``y_pred`` (scikit-learn's default), so a class absent from both neither helps nor hurts; ``per_class`` lists
    every label.
    """
    labels = [str(label) for label in labels]
    truth, predicted = _as_indices(y_true, labels), _as_indices(y_pred, labels)
    matrix = confusion_matrix(truth, predicted, len(labels))
    true_positive = np.diag(matrix)
    support = matrix.sum(axis=1)          # true items per class
    predicted_count = matrix.sum(axis=0)  # predicted items per class
    per_class, present = {}, []
    for i, label in enumerate(labels):
        precision = _ratio(true_positive[i], predicted_count[i])
        recall = _ratio(true_positive[i], support[i])
        per_class[label] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                            "support": int(support[i])}
        if support[i] or predicted_count[i]:
            present.append(per_class[label]["f1"])
    return {"accuracy": accuracy(truth, predicted), "macro_f1": float(np.mean(present)) if present else 0.0,
            "per_class": per_class}


def entity_report(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """Entity-level ``{"f1", "precision", "recall"}`` (micro over all entities) and ``per_type`` ({"PER":
    {"precision", "recall", "f1", "support"}, ...}) with seqeval in strict IOB2 mode: an entity counts only when
    its type and both its ends match exactly, and an ``I-`` tag without a ``B-`` before it starts no entity.

    Takes one tag list per sentence; raises ValueError when the sentences or their lengths differ.
    """
    from seqeval.metrics import classification_report as seqeval_report
    from seqeval.scheme import IOB2

    true_tags = [list(tags) for tags in true_tags]
    pred_tags = [list(tags) for tags in pred_tags]
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true tag sequences but {len(pred_tags)} predicted ones")
    for i, (truth, predicted) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(truth) != len(predicted):
            raise ValueError(f"sentence {i}: {len(truth)} true tags but {len(predicted)} predicted")
    has_entity = any(tag != "O" for tags in true_tags + pred_tags for tag in tags)
    if not has_entity:   # seqeval averages over an empty class list (NaN and warnings): nothing to find, nothing found
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0, "per_type": {}}
    report = seqeval_report(true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro = report["micro avg"]
    per_type = {name: {"precision": float(row["precision"]), "recall": float(row["recall"]),
                       "f1": float(row["f1-score"]), "support": int(row["support"])}
                for name, row in report.items() if not name.endswith(" avg")}
    return {"f1": float(micro["f1-score"]), "precision": float(micro["precision"]), "recall": float(micro["recall"]),
            "per_type": per_type}


def regression_report(y_true, y_pred) -> dict:
    """``{"mse", "mae", "mape"}`` over all values (arrays of any shape, flattened).

    ``mape`` is the mean absolute percentage error in percent, ``100 * mean(|pred - true| / |true|)``, over the
    items whose target is not zero (a zero target has no percentage error); NaN when every target is zero.
    """
    truth = np.asarray(y_true, dtype=np.float64).reshape(-1)
    predicted = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    _same_length(truth, predicted)
    if not len(truth):
        raise ValueError("regression_report needs at least one value")
    error = predicted - truth
    nonzero = truth != 0
    mape = float(100 * np.mean(np.abs(error[nonzero]) / np.abs(truth[nonzero]))) if nonzero.any() else math.nan
    return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error))), "mape": mape}


def translation_report(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus-level ``{"bleu", "bleu_lowercase", "chrf"}`` with sacreBLEU's defaults: BLEU on its 13a tokenization
    (cased, and again lower-cased) and chrF (character 6-grams, beta 2), one reference per sentence, on detokenized
    text as a user would read it. Raises ValueError when the lists differ in length or are empty."""
    from sacrebleu.metrics import BLEU, CHRF

    hypotheses, references = [str(h) for h in hypotheses], [str(r) for r in references]
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("translation_report needs at least one sentence")
    return {"bleu": float(BLEU().corpus_score(hypotheses, [references]).score),
            "bleu_lowercase": float(BLEU(lowercase=True).corpus_score(hypotheses, [references]).score),
            "chrf": float(CHRF().corpus_score(hypotheses, [references]).score)}
