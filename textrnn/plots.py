"""Figures for runs: training curves, confusion matrices, bar charts, forecasts against truth, several models' loss
curves, a translation's attention. Each function writes one image atomically and returns its path.

matplotlib is imported inside the functions (``import textrnn`` stays fast) and drawn through its object API on
the Agg canvas: no pyplot, so no global backend is switched, no window can open, and a headless server works.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textrnn.fileio import atomic_write

DPI = 120
# Validation figures worth a panel, in the order they are looked for; scores in [0, 1] share one axis.
SCORES = ("accuracy", "macro_f1", "f1", "precision", "recall", "token_accuracy")
ERRORS = ("perplexity", "bits_per_char", "mape", "mae", "mse")
SKIPPED = {"loss", "n", "nll_per_char"}


def _figure(width: float, height: float):
    """A figure drawn on the Agg canvas (set before anything is drawn)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | Path, missing_glyphs: bool = False) -> Path:
    """Write the figure atomically (``fileio.atomic_write``), in the format the suffix names; ``missing_glyphs``:
    the labels have characters no font draws (already said once), so matplotlib's warning per glyph is dropped."""
    import warnings

    path = Path(path)
    with warnings.catch_warnings():
        if missing_glyphs:
            warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        atomic_write(path, lambda tmp: figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=DPI,
                                                      bbox_inches="tight"))
    return path


def _font_for(texts: Sequence[str]) -> str | None:
    """The family of an installed font with glyphs for every character of ``texts`` (Hangul, say) when the default
    font lacks some; "" when the default font has them all; None when no installed font does, after one line on
    stderr that says what to install (the labels then show boxes)."""
    import sys

    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    wanted = {ord(c) for text in texts for c in text if not c.isspace()}

    def covers(path: str) -> bool:
        try:
            return wanted <= set(FT2Font(path).get_charmap())
        except (OSError, RuntimeError, ValueError):
            return False

    if covers(font_manager.findfont(font_manager.FontProperties())):
        return ""
    for entry in font_manager.fontManager.ttflist:
        if covers(entry.fname):
            return entry.name
    print("plots: no installed font has glyphs for all the labels' characters, so some show as boxes; install one "
          "that has them (for Korean, Chinese or Japanese: fonts-noto-cjk)", file=sys.stderr)
    return None


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _series(history: Sequence[dict], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of one history key, skipping epochs without a finite value."""
    epochs, values = [], []
    for i, row in enumerate(history):
        if _numeric(row.get(key)):
            epochs.append(row.get("epoch", i + 1))
            values.append(float(row[key]))
    return epochs, values


def _valid_metrics(history: Sequence[dict]) -> list[str]:
    """The validation metrics (without the ``valid_`` prefix) to draw beside the losses."""
    found = [key[len("valid_"):] for key in dict.fromkeys(k for row in history for k in row)
             if key.startswith("valid_") and key[len("valid_"):] not in SKIPPED
             and any(_numeric(row.get(key)) for row in history)]
    scores = [name for name in SCORES if name in found]
    if scores:
        return scores
    errors = [name for name in ERRORS if name in found]
    return errors[:1] or found[:1]


def plot_curves(history: Sequence[dict], path: str | Path) -> Path:
    """Two panels from a training history (one dict per epoch, as ``History.epochs``): ``train_loss`` and
    ``valid_loss`` per epoch, and beside them the validation metrics (scores such as accuracy and F1 together, else
    one error figure such as perplexity)."""
    figure = _figure(11, 4)
    losses, metrics = figure.subplots(1, 2)
    for key, name in (("train_loss", "train"), ("valid_loss", "valid")):
        epochs, values = _series(history, key)
        if values:
            losses.plot(epochs, values, marker="o", markersize=3, label=name)
    losses.set(title="loss per epoch", xlabel="epoch", ylabel="loss")
    if losses.lines:
        losses.legend()
    else:
        losses.text(0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=losses.transAxes)
    names = _valid_metrics(history)
    for name in names:
        epochs, values = _series(history, f"valid_{name}")
        metrics.plot(epochs, values, marker="o", markersize=3, label=name)
    if names:
        metrics.set(title="validation", xlabel="epoch", ylabel=names[0] if len(names) == 1 else "score")
        metrics.legend()
    else:
        metrics.text(0.5, 0.5, "no validation metric", ha="center", va="center", transform=metrics.transAxes)
        metrics.set(title="validation", xlabel="epoch")
    from matplotlib.ticker import MaxNLocator

    for axes in (losses, metrics):
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
    return _save(figure, path)


def plot_confusion(matrix, labels: Sequence[str], path: str | Path, normalize: bool = True) -> Path:
    """The confusion matrix as a heat map (rows = true class, columns = predicted). With ``normalize`` each row is
    divided by its total (recall on the diagonal). The figure grows with the number of classes, and fonts shrink
    and column labels turn vertical so that 46 Reuters topics stay readable; cells carry numbers up to 20 classes."""
    matrix = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    if matrix.shape != (n, n):
        raise ValueError(f"a {matrix.shape} matrix does not match {n} labels")
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    size = max(5.0, 0.24 * n + 2.5)
    font = max(6.0, min(10.0, 320.0 / max(n, 1)))   # a cell is 0.24 in (17 pt) wide at 46 classes
    figure = _figure(size + 1.2, size)
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else None, interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(range(n), [str(label) for label in labels], rotation=90, fontsize=font)
    axes.set_yticks(range(n), [str(label) for label in labels], fontsize=font)
    axes.set(xlabel="predicted", ylabel="true", title="confusion matrix" + (" (row-normalised)" if normalize else ""))
    if n <= 20:
        top = matrix.max() if matrix.size else 0
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                axes.text(j, i, text, ha="center", va="center", fontsize=font * 0.8,
                          color="white" if top and value > 0.6 * top else "black")
    return _save(figure, path)


def plot_bars(names: Sequence[str], values: Sequence[float], path: str | Path, title: str, ylabel: str) -> Path:
    """A bar chart with each bar's value written above it."""
    if len(names) != len(values):
        raise ValueError(f"{len(names)} names but {len(values)} values")
    figure = _figure(max(5.0, 1.1 * len(names) + 2), 4)
    axes = figure.subplots()
    bars = axes.bar([str(n) for n in names], [float(v) for v in values], color="tab:blue")
    axes.bar_label(bars, fmt="%.3g", fontsize=8)
    axes.set(title=title, ylabel=ylabel)
    axes.grid(axis="y", alpha=0.3)
    if len(names) > 6:
        axes.tick_params(axis="x", labelrotation=45)
    return _save(figure, path)


def plot_series(truth, predictions: dict[str, Sequence[float]], path: str | Path, title: str) -> Path:
    """A forecast against the truth: the true series in black, each prediction (same length) as its own line."""
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    figure = _figure(11, 4)
    axes = figure.subplots()
    steps = np.arange(len(truth))
    axes.plot(steps, truth, color="black", linewidth=1.8, label="truth")
    for name, values in predictions.items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(values) != len(truth):
            raise ValueError(f"prediction {name!r} has {len(values)} values but the truth has {len(truth)}")
        axes.plot(steps, values, linewidth=1.0, alpha=0.85, label=str(name))
    axes.set(title=title, xlabel="step", ylabel="value")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, path)


def plot_loss_curves(curves: dict[str, Sequence[float]], path: str | Path, title: str = "loss per epoch",
                     ylabel: str = "loss") -> Path:
    """Several models' loss curves on one axis (log scale when positive values span more than two decades)."""
    figure = _figure(9, 5)
    axes = figure.subplots()
    positive = []
    for name, values in curves.items():
        values = [float(v) for v in values]
        axes.plot(range(1, len(values) + 1), values, linewidth=1.2, label=str(name))
        positive += [v for v in values if math.isfinite(v) and v > 0]
    if positive and max(positive) / min(positive) > 100:
        axes.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    axes.set(title=title, xlabel="epoch", ylabel=ylabel)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    if curves:
        axes.legend(fontsize=8, ncol=2 if len(curves) > 8 else 1)
    return _save(figure, path)


def plot_attention(weights, source_tokens: Sequence[str], target_tokens: Sequence[str], path: str | Path,
                   title: str = "attention") -> Path:
    """A translation's attention as a heat map: one row per target token (``target_tokens``, e.g. the output and
    its <eos>), one column per source token, ``weights`` (len(target_tokens), len(source_tokens)) in [0, 1] (each
    row a distribution). The figure grows with the sentence; tokens label the axes. Raises ValueError when the
    shapes disagree."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(f"attention weights of shape {weights.shape} do not match {len(target_tokens)} target and "
                         f"{len(source_tokens)} source tokens")
    figure = _figure(max(4.0, 0.45 * len(source_tokens) + 2.0), max(3.0, 0.4 * len(target_tokens) + 1.5))
    axes = figure.subplots()
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    sources, targets = [str(t) for t in source_tokens], [str(t) for t in target_tokens]
    family = _font_for(sources + targets + [title])  # the title is often the source sentence
    font = {"fontfamily": family} if family else {}
    axes.set_xticks(range(len(sources)), sources, rotation=60, ha="right", fontsize=8, **font)
    axes.set_yticks(range(len(targets)), targets, fontsize=8, **font)
    axes.set(xlabel="source", ylabel="translation")
    axes.set_title(title, **font)
    return _save(figure, path, missing_glyphs=family is None)
