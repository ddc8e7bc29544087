import pytest

from textrnn.config import apply_overrides, from_dict, parse_value
from textrnn.errors import ConfigError
from textrnn.train import TrainConfig


def test_from_dict_types_and_unknown_keys():
    config = from_dict(TrainConfig, {"epochs": 3, "lr": 1})
    assert config.epochs == 3 and config.lr == 1.0
    with pytest.raises(ConfigError, match=r"unknown setting 'train.epoch' \(did you mean 'epochs'\?\)"):
        from_dict(TrainConfig, {"epoch": 3}, "train")
    with pytest.raises(ConfigError, match="train.epochs: expected an integer"):
        from_dict(TrainConfig, {"epochs": "many"}, "train")
    with pytest.raises(ConfigError, match="expected true or false"):
        from_dict(TrainConfig, {"amp": "yes"})


def test_overrides():
    data = apply_overrides({"train": {"epochs": 10}}, ["train.epochs=3", "model.cell=gru", "drill.seeds=[0, 1]"])
    assert data == {"train": {"epochs": 3}, "model": {"cell": "gru"}, "drill": {"seeds": [0, 1]}}
    assert parse_value("true") is True and parse_value("0.5") == 0.5 and parse_value("lstm") == "lstm"
    # a table as a recipe writes it, or as JSON; a date-like or unbalanced text stays a string
    assert parse_value("{kss_sentences = 8, nsmc = 0.5}") == {"kss_sentences": 8, "nsmc": 0.5}
    assert parse_value('{"kss_sentences": 8}') == {"kss_sentences": 8} and parse_value("[1, 2,]") == [1, 2]
    assert parse_value("2026-12-01") == "2026-12-01" and parse_value("{kss=") == "{kss="
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["epochs"])
