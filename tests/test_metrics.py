"""Metrics against hand-computed values, seqeval's strict IOB2 behaviour and sacreBLEU's scores; plots write valid
PNG files."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from textrnn.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    entity_report,
    regression_report,
    translation_report,
)
from textrnn.plots import plot_attention, plot_bars, plot_confusion, plot_curves, plot_loss_curves, plot_series

PNG = b"\x89PNG\r\n\x1a\n"


def test_accuracy():
    assert accuracy([0, 1, 2, 2], [0, 2, 2, 2]) == 0.75
    assert accuracy(np.array(["a", "b"]), np.array(["a", "a"])) == 0.5
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        accuracy([0, 1], [0])


def test_confusion_matrix_rows_are_true_columns_predicted():
    matrix = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert matrix.dtype == np.int64
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 5], [0, 1], 3)


def test_classification_report_by_hand():
    labels = ["earn", "acq", "crude", "gold"]
    truth = [0, 0, 0, 1, 1, 2]
    guess = [0, 0, 1, 1, 2, 2]
    report = classification_report(truth, guess, labels)
    # earn: tp 2, fp 0, fn 1; acq: tp 1, fp 1, fn 1; crude: tp 1, fp 1, fn 0; gold: absent everywhere
    earn, acq, crude, gold = (report["per_class"][label] for label in labels)
    assert earn == {"precision": 1.0, "recall": pytest.approx(2 / 3), "f1": pytest.approx(0.8), "support": 3}
    assert acq == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert crude["precision"] == 0.5 and crude["recall"] == 1.0 and crude["f1"] == pytest.approx(2 / 3)
    assert gold == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)   # gold occurs nowhere: not averaged
    by_name = classification_report(["earn", "acq"], ["earn", "earn"], labels)
    assert by_name["per_class"]["earn"]["precision"] == 0.5 and by_name["accuracy"] == 0.5
    with pytest.raises(ValueError, match="ship"):
        classification_report(["ship"], ["earn"], labels)


def test_entity_report_is_strict_iob2():
    truth = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    guess = [["I-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    report = entity_report(truth, guess)
    # strict: I-PER I-PER without a B- is no entity, so 2 of 2 predicted entities are right and 2 of 3 found
    assert report["precision"] == 1.0
    assert report["recall"] == pytest.approx(2 / 3)
    assert report["f1"] == pytest.approx(0.8)
    assert report["per_type"]["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["per_type"]["LOC"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert set(report["per_type"]) == {"PER", "LOC", "ORG"}


def test_entity_report_needs_exact_spans_and_types():
    truth = [["B-PER", "I-PER", "O", "B-MISC", "I-MISC"]]
    guess = [["B-PER", "O", "O", "B-ORG", "I-ORG"]]   # a span one word short, and a wrong type
    report = entity_report(truth, guess)
    assert report == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "per_type": report["per_type"]}
    assert report["per_type"]["ORG"]["support"] == 0
    nothing = entity_report([["O", "O"]], [["O", "O"]])
    assert nothing == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "per_type": {}}
    with pytest.raises(ValueError, match="sentence 0"):
        entity_report([["O", "O"]], [["O"]])


def test_regression_report_skips_zero_targets_for_mape():
    report = regression_report([0.0, 2.0, 4.0], [1.0, 1.0, 5.0])
    assert report["mse"] == pytest.approx(1.0)
    assert report["mae"] == pytest.approx(1.0)
    assert report["mape"] == pytest.approx(100 * (1 / 2 + 1 / 4) / 2)   # the zero target is left out
    assert math.isnan(regression_report([0.0], [1.0])["mape"])
    assert regression_report(np.ones((2, 3)), np.ones((2, 3)))["mse"] == 0.0


def is_png(path) -> bool:
    return path.exists() and path.read_bytes()[:8] == PNG


def test_plots_write_png_files_atomically(tmp_path):
    history = [{"epoch": e, "train_loss": 2.0 / e, "valid_loss": 2.2 / e, "valid_accuracy": 0.5 + e / 10,
                "valid_macro_f1": 0.4 + e / 10, "valid_n": 100, "seconds": 1.0} for e in range(1, 4)]
    labels = [f"topic-{i}" for i in range(46)]
    matrix = np.random.default_rng(0).integers(0, 20, size=(46, 46))
    written = [
        plot_curves(history, tmp_path / "curves.png"),
        plot_curves([{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.1, "valid_perplexity": 3.0}], tmp_path / "lm.png"),
        plot_curves([], tmp_path / "empty.png"),
        plot_confusion(matrix, labels, tmp_path / "confusion.png"),
        plot_confusion(np.array([[3, 1], [0, 0]]), ["pos", "neg"], tmp_path / "small.png", normalize=False),
        plot_bars(["rnn", "lstm", "gru"], [17.7, 96.4, 98.9], tmp_path / "bars.png", "accuracy", "%"),
        plot_series(np.sin(np.arange(50) / 5), {"model": np.sin(np.arange(50) / 5) + 0.1, "last": np.zeros(50)},
                    tmp_path / "plots" / "series.png", "sine"),
        plot_loss_curves({"lstm": [1.0, 0.1, 0.001], "gru": [1.0, 0.5, 0.2]}, tmp_path / "loss.png"),
    ]
    for path in written:
        assert is_png(path), path
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []   # no temporaries left
    with pytest.raises(ValueError):
        plot_series([1, 2, 3], {"short": [1, 2]}, tmp_path / "bad.png", "bad")
    assert not (tmp_path / "bad.png").exists()


def test_translation_report_is_sacrebleus_bleu_cased_and_lower_cased_and_chrf():
    references = ["A man is riding a horse on the beach.", "Two dogs play in the snow."]
    assert translation_report(references, references) == pytest.approx({"bleu": 100.0, "bleu_lowercase": 100.0,
                                                                        "chrf": 100.0})
    lower = translation_report([r.lower() for r in references], references)
    assert lower["bleu_lowercase"] == pytest.approx(100.0) and lower["bleu"] < 90.0 and lower["chrf"] < 100.0
    # 13a tokenization splits the final period off: a hypothesis without it loses a token, not the whole word
    assert 60.0 < translation_report(["A man is riding a horse on the beach"], references[:1])["bleu"] < 100.0
    assert translation_report([""], ["A dog."]) == {"bleu": 0.0, "bleu_lowercase": 0.0, "chrf": 0.0}
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        translation_report(["x"], references)
    with pytest.raises(ValueError, match="at least one sentence"):
        translation_report([], [])


def test_attention_heat_map(tmp_path):
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=4)          # (target 4, source 5), rows sum to 1
    path = plot_attention(weights, ["ein", "hund", "läuft", ".", "<eos>"][:5], ["a", "dog", "runs", "<eos>"],
                          tmp_path / "attention.png")
    assert is_png(path)
    with pytest.raises(ValueError, match=r"shape \(4, 5\) do not match 3 target and 5 source tokens"):
        plot_attention(weights, list("abcde"), list("xyz"), tmp_path / "bad.png")


def test_attention_labels_in_hangul_get_a_font_that_has_them_or_one_line_saying_so(tmp_path, capsys):
    """Korean source tokens: drawn with an installed font that covers them, else a line naming what to install,
    and not one matplotlib warning per missing glyph."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    weights = np.full((2, 3), 1 / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # a glyph warning would fail the test
        path = plot_attention(weights, ["▁나는", "▁밥을", "▁먹었다"], ["▁I", "<eos>"], tmp_path / "ko.png")
    assert is_png(path)
    hangul = {ord("밥"), ord("먹")}
    has_font = any(hangul <= set(FT2Font(entry.fname).get_charmap()) for entry in font_manager.fontManager.ttflist)
    said = capsys.readouterr().err
    assert ("fonts-noto-cjk" in said) != has_font
    plot_attention(weights, ["ein", "hund", "."], ["a", "dog"], tmp_path / "de.png")
    assert capsys.readouterr().err == ""
    with warnings.catch_warnings():                           # the title (the source sentence) counts too
        warnings.simplefilter("error")
        plot_attention(weights, ["a", "b", "c"], ["x", "y"], tmp_path / "title.png", title="나는 밥을 먹었다")
    assert ("fonts-noto-cjk" in capsys.readouterr().err) != has_font
