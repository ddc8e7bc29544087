"""Pretraining a classifier's or tagger's encoder as a language model (textrnn/pretrain.py)."""
import pytest
import torch

from textrnn.corpus import Example
from textrnn.errors import ConfigError, TrainingError
from textrnn.pipeline import Pipeline
from textrnn.pretrain import FOLDER, tagger_texts, targets
from textrnn.train import CHECKPOINT

TEXTS = ["great film , loved it", "awful film , hated it", "wonderful acting", "boring story"]
UNLABELLED = ["the film was great and the acting was wonderful", "a boring story with awful acting",
              "loved the story , hated the ending", "wonderful film , great story"] * 8


def labelled_examples() -> list[Example]:
    return [Example(text=t, label=label) for t, label in zip(TEXTS, ["pos", "neg", "pos", "neg"], strict=True)] * 4


def conv_classifier(**model) -> Pipeline:
    settings = {"hidden_dim": 8, "bidirectional": True, "pooling": "max+mean", "conv_channels": 6, "conv_kernel": 3,
                "pool_size": 2, "embedding": {"dim": 8}, **model}
    return Pipeline.for_task("classify", train=labelled_examples(), model=settings,
                             train_config={"epochs": 1, "batch_size": 4}, quiet=True)


@pytest.mark.parametrize("kernel,pool", [(3, 2), (5, 4), (4, 2), (1, 1)])
def test_the_targets_are_the_nearest_words_a_step_has_not_seen(kernel, pool):
    torch.manual_seed(0)
    # many channels, so that a seen word's change is not lost to the ReLU and the max pooling in all of them
    pipe = conv_classifier(conv_kernel=kernel, pool_size=pool, conv_channels=64)
    model = pipe.model.eval()
    length = 24
    ids = torch.randint(4, len(pipe.vocab), (1, length))
    lengths = torch.tensor([length])

    def states(words):
        x, steps = model.conv(model.embedding(words), lengths)
        return model.rnn(x, steps)[0][0]                                          # (S, 2 * hidden)

    before = states(ids)
    hidden = model.rnn.output_dim // 2
    forward_at, backward_at = targets(before.size(0), pool, *model.conv.pad)
    for s in range(before.size(0)):
        for direction, at in ((0, int(forward_at[s])), (1, int(backward_at[s]))):
            if not 0 <= at < length:
                continue
            changed = ids.clone()
            changed[0, at] = 4 + (int(ids[0, at]) - 3) % (len(pipe.vocab) - 4)   # another word
            after = states(changed)
            half = slice(direction * hidden, (direction + 1) * hidden)
            assert torch.equal(before[s, half], after[s, half]), (s, direction, at)   # the target is unseen
            nearer = at - 1 if direction == 0 else at + 1                                # ... and the word before it is seen
            if 0 <= nearer < length:
                changed = ids.clone()
                changed[0, nearer] = 4 + (int(ids[0, nearer]) - 3) % (len(pipe.vocab) - 4)
                assert not torch.equal(before[s, half], states(changed)[s, half]), (s, direction, nearer)


def test_pretraining_trains_the_encoder_keeps_its_weights_and_a_resumed_run_loads_them(tmp_path):
    pipe = conv_classifier()
    head_before = pipe.model.output.weight.detach().clone()
    rnn_before = [p.detach().clone() for p in pipe.model.rnn.parameters()]
    report = pipe.pretrain(UNLABELLED, epochs=2, batch_size=4, negatives=8, run_dir=tmp_path, quiet=True)
    assert report["epochs"] == 2 and report["words"] > 0 and report["loss"] > 0
    assert torch.equal(pipe.model.output.weight, head_before)                    # the label head is left alone
    assert all(not torch.equal(p, q) for p, q in zip(pipe.model.rnn.parameters(), rnn_before, strict=True))
    assert (tmp_path / FOLDER / CHECKPOINT).exists()
    again = conv_classifier()
    loaded = again.pretrain(UNLABELLED, epochs=2, batch_size=4, negatives=8, run_dir=tmp_path, resume=True,
                            quiet=True)
    assert loaded["epochs"] == 2                                                 # finished: nothing run again
    for (name, a), b in zip(pipe.model.state_dict().items(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    again.fit(labelled_examples(), labelled_examples(), quiet=True)
    assert len(again.predict(TEXTS)) == len(TEXTS)


def test_pretraining_reduces_the_sampled_loss_of_a_recurrent_layer_without_a_convolution():
    torch.manual_seed(0)
    pipe = Pipeline.for_task("classify", train=labelled_examples(), quiet=True,
                             model={"hidden_dim": 16, "embedding": {"dim": 16}})
    first = pipe.pretrain(UNLABELLED, epochs=1, batch_size=8, negatives=16, quiet=True)
    later = pipe.pretrain(UNLABELLED, epochs=10, batch_size=8, negatives=16, quiet=True)
    assert later["loss"] < first["loss"]


def test_pretraining_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ConfigError, match="epochs"):
        conv_classifier().pretrain(UNLABELLED, epochs=0)
    lm = Pipeline.for_task("lm", train=[Example(text=t) for t in UNLABELLED], quiet=True, model={"hidden_dim": 8})
    with pytest.raises(ConfigError, match="classifiers and taggers"):
        lm.pretrain(UNLABELLED, epochs=1)
    with pytest.raises(ConfigError, match="no word of the vocabulary"):             # <unk> is never a target
        conv_classifier().pretrain(["zebra quokka wombat platypus koala"] * 4, epochs=1)
    with pytest.raises(ConfigError, match="stacked bidirectional"):
        conv_classifier(num_layers=2).pretrain(UNLABELLED, epochs=1)
    with pytest.raises(ConfigError, match="no text of 4 words or more"):            # kernel 3, pooling 2
        conv_classifier().pretrain(["great film", "awful acting ."], epochs=1)
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="delete it"):
        conv_classifier().pretrain(UNLABELLED, epochs=1, run_dir=tmp_path, resume=True)


def test_an_ensemble_pretrains_every_member_against_its_own_word_vectors():
    pipe = conv_classifier(members=2)
    before = [[p.detach().clone() for p in m.rnn.parameters()] for m in pipe.model.members]
    report = pipe.pretrain(UNLABELLED, epochs=1, batch_size=4, negatives=8, quiet=True)
    assert report["epochs"] == 1
    for member, old in zip(pipe.model.members, before, strict=True):
        assert all(not torch.equal(p, q) for p, q in zip(member.rnn.parameters(), old, strict=True))
    a, b = (m.embedding.weight for m in pipe.model.members)
    assert not torch.equal(a, b)                                                 # each learned on its own


# ------------------------------------------------------------------------------------------------------ taggers

SENTENCES = [(["Teddy", "Roosevelt", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
             (["Marie", "Curie", "worked", "in", "Warsaw", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
             (["The", "United", "Nations", "met", "in", "Geneva"], ["O", "B-ORG", "I-ORG", "O", "O", "B-LOC"])]
NEWS = ["Teddy Roosevelt visited Warsaw in May. The United Nations met in Paris. Marie Curie worked in Geneva.",
        "Curie visited Paris. Roosevelt met the Nations in Geneva, and worked in Warsaw."] * 6


def tagger(**model) -> Pipeline:
    settings = {"hidden_dim": 8, "embedding": {"dim": 8}, "char_dim": 4, "char_hidden": 6, "casing_dim": 3,
                "crf": True, **model}
    train = [Example(tokens=w, tags=t) for w, t in SENTENCES] * 3
    return Pipeline.for_task("tag", train=train, model=settings, tokenizer={"kind": "word", "lower": True},
                             train_config={"epochs": 1, "batch_size": 4}, quiet=True)


def test_a_tagger_pretrains_its_words_characters_casing_and_recurrent_layer_on_sentences_and_running_text():
    torch.manual_seed(0)
    pipe = tagger()
    model = pipe.model
    encoder = {name: p.detach().clone() for name, p in model.named_parameters()}
    train = [Example(tokens=w, tags=t) for w, t in SENTENCES]
    report = pipe.pretrain(train + NEWS, epochs=1, batch_size=4, negatives=8, quiet=True)
    assert report["epochs"] == 1
    assert report["texts"] == len(SENTENCES) + 3 * 6 + 2 * 6      # the running texts cut into their sentences
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, encoder[name])}
    for part in ("embedding", "chars", "casing", "rnn"):
        assert any(name.startswith(part + ".") for name in changed), part
    assert not any(name.startswith(("output.", "crf.")) for name in changed)   # the tag scores are left alone
    pipe.fit(train * 3, train, quiet=True)
    assert pipe.tag(["Curie visited Geneva"])[0]["tokens"] == ["Curie", "visited", "Geneva"]


def test_a_tagger_predicts_from_each_direction_a_word_that_direction_has_not_read():
    torch.manual_seed(0)
    pipe = tagger()
    model = pipe.model.eval()
    sentence = ["Teddy", "Roosevelt", "visited", "Paris", "in", "Geneva", "."]

    def states(words):
        batch = tagger_texts(pipe, [Example(tokens=words)], max_len=50).batch([0]).to(pipe.device)
        return model.states(batch.ids, batch.lengths, batch.chars, batch.casing)[0]

    before = states(sentence)
    hidden = model.rnn.output_dim // 2
    forward_at, backward_at = targets(len(sentence), 1, 0, 0)
    for s in range(len(sentence)):
        for direction, at in ((0, int(forward_at[s])), (1, int(backward_at[s]))):
            if not 0 <= at < len(sentence):
                continue
            changed = list(sentence)
            changed[at] = "GENEVA" if changed[at] != "GENEVA" else "x"        # another word, characters and casing
            after = states(changed)
            half = slice(direction * hidden, (direction + 1) * hidden)
            assert torch.equal(before[s, half], after[s, half]), (s, direction, at)
            assert not torch.equal(before[at, half], after[at, half])          # the word itself is read there


def test_a_taggers_running_text_is_cleaned_as_its_texts_are_and_cut_into_sentences_as_written():
    pipe = tagger()
    pipe.config.encode.strip_html = True
    text = tagger_texts(pipe, ["Curie visited Paris.<br /><br />Roosevelt met the U.N. in Geneva."], max_len=50)
    assert text.tokens == [["Curie", "visited", "Paris", "."],
                                   ["Roosevelt", "met", "the", "U", ".", "N", ".", "in", "Geneva", "."]]
