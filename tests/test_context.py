"""Contextual character features (textrnn/context.py): where each word's states are read, which side of the
sentence each half sees, saving and loading with a tagger, resuming, and the text they are trained on."""
from __future__ import annotations

import pytest
import torch
from conftest import needs_data

import textrnn
from textrnn.context import ContextConfig, ContextFeatures, sentence_text, word_positions
from textrnn.corpus import Corpus, load_extra_text
from textrnn.errors import ConfigError, PipelineError
from textrnn.pipeline import Pipeline
from textrnn.train import TrainConfig

TINY = {"hidden_dim": 8, "char_dim": 4, "minutes": 0.05, "epochs": 1, "batch_size": 4, "bptt": 16}
SENTENCES = [["Teddy", "Roosevelt", "visited", "Paris", "."], ["Marie", "Curie", "worked", "in", "Warsaw"],
             ["The", "United", "Nations", "met", "in", "Geneva"]] * 4


def test_word_positions_point_at_each_words_last_and_first_character():
    tokens = ["Ab", "c", "Def"]
    text = sentence_text(tokens)
    assert text == "Ab c Def"
    ends, starts = word_positions(tokens)
    # forward: step i + 1 has read text[i]; the word's last character
    assert [text[e - 1] for e in ends] == ["b", "c", "f"]
    # backward: the reversed text's step j + 1 has read reversed[j]; the word's first character
    reversed_text = text[::-1]
    assert [reversed_text[s - 1] for s in starts] == ["A", "c", "D"]


def pretrained(tmp_path=None, resume=False) -> ContextFeatures:
    torch.manual_seed(0)
    return ContextFeatures.pretrain(ContextConfig(**TINY), SENTENCES, ["Paris is in France. Geneva is not."],
                                    TrainConfig(device="cpu"), run_dir=tmp_path, resume=resume, quiet=True)


def test_the_forward_half_sees_only_the_left_and_the_backward_half_only_the_right():
    features = pretrained()
    dim = features.config.hidden_dim
    one = features.features([["Teddy", "visited", "Paris"]])[0].float()
    other = features.features([["Teddy", "visited", "Rome"]])[0].float()
    assert one.shape == (3, 2 * dim) and one.dtype == torch.float32
    # changing the last word leaves the earlier words' forward halves alone, and changes their backward halves
    assert torch.equal(one[:2, :dim], other[:2, :dim])
    assert not torch.equal(one[:2, dim:], other[:2, dim:])
    first = features.features([["Anna", "visited", "Paris"]])[0].float()
    assert torch.equal(one[1:, dim:], first[1:, dim:])
    assert not torch.equal(one[1:, :dim], first[1:, :dim])
    # a sentence reads the same alone as in a batch of others (padding never reaches it); empty ones are empty
    batch = features.features([["Teddy", "visited", "Paris"], ["A", "much", "longer", "sentence", "here"], []])
    assert torch.allclose(batch[0].float(), one, atol=1e-3)
    assert batch[2].shape == (0, 2 * dim)


def test_resume_loads_the_trained_lms_instead_of_training_again(tmp_path):
    first = pretrained(tmp_path)
    assert (tmp_path / "context-forward" / "config.json").exists()
    again = pretrained(tmp_path, resume=True)
    for direction in ("forward", "backward"):
        for a, b in zip(first.models[direction].parameters(), again.models[direction].parameters(), strict=True):
            assert torch.equal(a, b)


def test_a_tagger_with_context_features_saves_and_loads_them(tmp_path, conll_file):
    corpus = Corpus.from_files(train=conll_file, valid=conll_file, task="tag")
    tagger = Pipeline.for_task("tag", corpus, tokenizer={"kind": "word", "lower": True},
                               model={"hidden_dim": 8, "char_dim": 4, "casing_dim": 2, "crf": True,
                                      "embedding": {"dim": 8}},
                               context=TINY, context_text=["Paris and Geneva are cities."],
                               train_config={"epochs": 1, "device": "cpu"}, quiet=True)
    assert tagger.model.config.context_dim == 2 * TINY["hidden_dim"]
    tagger.fit(corpus=corpus, quiet=True)
    tagger.save(tmp_path / "tagger")
    document = (tmp_path / "tagger" / "config.json").read_text(encoding="utf-8")
    for name in ("context_forward.safetensors", "context_backward.json"):
        assert name in document                                    # listed with its checksum
    again = textrnn.load(tmp_path / "tagger")
    sentence = "Teddy Roosevelt visited Geneva ."
    assert again.tag([sentence]) == tagger.tag([sentence])
    assert again.evaluate(corpus.valid)["f1"] == pytest.approx(tagger.evaluate(corpus.valid)["f1"])
    # the features change the tags' scores: a tagger without them is another model
    ids = torch.tensor([[2, 3]])
    with pytest.raises(ValueError, match="contextual features"):
        again.model.emissions(ids, torch.tensor([2]), chars=torch.ones(1, 2, 3, dtype=torch.long),
                              casing=torch.ones(1, 2, dtype=torch.long))
    (tmp_path / "tagger" / "context_backward.safetensors").write_bytes(b"not the weights")
    with pytest.raises(PipelineError, match="context_backward.safetensors: does not match the checksum"):
        textrnn.load(tmp_path / "tagger")


def test_context_features_are_for_taggers(text_file):
    lines = Corpus.from_files(train=text_file, task="lm")
    with pytest.raises(ConfigError, match="for taggers, not lm"):
        Pipeline.for_task("lm", lines, context=TINY, quiet=True)


def test_extra_text_names_a_meta_field_or_says_which_there_are():
    with pytest.raises(ConfigError, match="no text field 'body'.*raw_text"):
        load_extra_text("reuters:body", "conll2003")


@needs_data("reuters")
def test_extra_text_reads_reuters_newswires_as_written():
    texts = load_extra_text("reuters:raw_text", "conll2003")
    assert len(texts) == 8982
    assert any(c.isupper() for c in texts[0]) and any(c in ".," for c in texts[0])
