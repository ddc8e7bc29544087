"""Parameter counts: the course's 2x30 models on (100, 2) inputs count as in Keras once single_bias is on."""
from __future__ import annotations

import pytest

from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.summary import count_parameters

KERAS = {"rnn": 2851, "lstm": 11311, "gru": 8671}           # SimpleRNN/LSTM/GRU(30) x2 + Dense(1) on (100, 2)
PYTORCH = {"rnn": 2911, "lstm": 11551, "gru": 8671}         # two bias vectors per RNN/LSTM layer


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_course_models_count_like_keras(cell):
    default = Regressor(RegressorConfig(input_dim=2, cell=cell, hidden_dim=30, num_layers=2))
    single = Regressor(RegressorConfig(input_dim=2, cell=cell, hidden_dim=30, num_layers=2, single_bias=True))
    assert count_parameters(default) == (PYTORCH[cell], PYTORCH[cell])
    assert count_parameters(single) == (PYTORCH[cell], KERAS[cell])
