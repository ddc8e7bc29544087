"""The Keras-style summary: the course's 2x30 models on (100, 2) inputs count as in Keras once single_bias is on."""
from __future__ import annotations

import pytest
import torch

from textrnn.embeddings import EmbeddingConfig
from textrnn.models.classifier import Classifier, ClassifierConfig
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.summary import count_parameters, summary

KERAS = {"rnn": 2851, "lstm": 11311, "gru": 8671}           # SimpleRNN/LSTM/GRU(30) x2 + Dense(1) on (100, 2)
PYTORCH = {"rnn": 2911, "lstm": 11551, "gru": 8671}         # two bias vectors per RNN/LSTM layer


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_course_models_count_like_keras(cell):
    inputs = (torch.rand(1, 100, 2),)
    default = Regressor(RegressorConfig(input_dim=2, cell=cell, hidden_dim=30, num_layers=2))
    single = Regressor(RegressorConfig(input_dim=2, cell=cell, hidden_dim=30, num_layers=2, single_bias=True))
    assert count_parameters(default) == (PYTORCH[cell], PYTORCH[cell])
    assert count_parameters(single) == (PYTORCH[cell], KERAS[cell])
    table = summary(single, inputs)
    print(f"\n{cell}, single_bias=True\n{table}\n\n{cell}, PyTorch default\n{summary(default, inputs)}")
    assert f"Trainable params: {KERAS[cell]:,}" in table
    assert f"Total params: {PYTORCH[cell]:,}" in table
    assert f"Non-trainable params: {PYTORCH[cell] - KERAS[cell]:,}" in table
    assert "(1, 100, 30)" in table and "(1, 1)" in table
    default_table = summary(default, inputs)
    assert ("two bias vectors" in default_table) == (cell != "gru")
    assert ("frozen at zero" in table) == (cell != "gru")


def test_summary_rows_shapes_and_tied_weights():
    config = LMConfig(embedding=EmbeddingConfig(dim=8), hidden_dim=12, num_layers=1, tie_weights=True)
    model = LanguageModel(config, 50)
    model.train()
    table = summary(model, {"ids": torch.randint(1, 50, (2, 7))})
    assert model.training                                            # the mode is restored
    rows = {line.split()[0]: line for line in table.splitlines()[2:] if line and line[0].islower()}
    assert list(rows) == ["embedding", "rnn", "dropout", "projection", "output"]
    assert "(2, 7, 50)" in rows["output"] and rows["output"].endswith(" 50")   # the tied matrix counts once
    assert "400" in rows["embedding"] and "(2, 7, 8)" in rows["embedding"]
    total, trainable = count_parameters(model)
    assert total == trainable == sum(p.numel() for p in set(model.parameters()))
    assert f"Total params: {total:,}" in table


def test_summary_takes_positional_inputs_and_counts_everything():
    model = Classifier(ClassifierConfig(embedding=EmbeddingConfig(dim=6), hidden_dim=5, conv_channels=4,
                                        bidirectional=True, pooling="max+mean"), 20, 3)
    ids = torch.randint(1, 20, (3, 9))
    table = summary(model, (ids, torch.tensor([9, 5, 2])))
    assert "Recurrent: LSTM 1x5 bidirectional" in table and "(3, 9, 6)" in table
    assert f"Total params: {count_parameters(model)[0]:,}" in table
    assert "outside the layers" not in table
