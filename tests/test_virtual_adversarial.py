"""Virtual adversarial training on unlabelled texts: the replayed dropout, the move's size and direction, the loop's
third pass, and what a pipeline does with unlabelled texts."""
import pytest
import torch

from textrnn.adversarial import VirtualAdversary, _kl, _RandomState
from textrnn.embeddings import EmbeddingConfig, LearnedEmbedding
from textrnn.encode import Batch
from textrnn.errors import ConfigError
from textrnn.models.classifier import ClassifierConfig, build_classifier
from textrnn.train import TaskLoop, TrainConfig, fit


def classifier(members=1, dropout=0.0):
    torch.manual_seed(0)
    config = ClassifierConfig(embedding=EmbeddingConfig(kind="learned", dim=6, dropout=dropout), hidden_dim=5,
                              pooling="max", members=members, dropout=dropout)
    return build_classifier(config, vocab_size=30, num_classes=3)


IDS = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0], [13, 14, 15, 16, 0]])
LENGTHS = torch.tensor([5, 3, 4])
LABELS = torch.tensor([0, 1, 2])


def forward(model):
    return lambda: model(IDS, LENGTHS)[0]


def test_replayed_random_state_draws_the_same_dropout_masks():
    dropout = torch.nn.Dropout(0.5)
    x = torch.ones(50)
    state = _RandomState()
    first = dropout(x)
    state.restore()
    assert torch.equal(dropout(x), first)


def test_the_loss_is_a_divergence_from_the_models_own_answer_and_reaches_the_weights():
    model = classifier(dropout=0.5).train()     # dropout on: the three passes must still share their masks
    virtual = VirtualAdversary(model, 0.1)
    loss = virtual.loss(forward(model))
    assert loss.item() > 0 and torch.isfinite(loss)
    loss.backward()
    assert model.output.weight.grad is not None and model.output.weight.grad.abs().sum() > 0
    virtual.remove()
    assert not model.embedding._forward_hooks


def test_with_no_move_the_replayed_passes_agree_despite_dropout(monkeypatch):
    # if the masks were not replayed, dropout alone would make q differ from p
    import textrnn.adversarial as adversarial

    model = classifier(dropout=0.5).train()
    virtual = VirtualAdversary(model, 0.1)
    monkeypatch.setattr(adversarial, "along", lambda vectors, direction, epsilon: torch.zeros_like(vectors))
    assert virtual.loss(forward(model)).item() == pytest.approx(0.0, abs=1e-6)


def test_the_move_is_its_share_of_each_texts_norm_and_beats_random_moves():
    model = classifier().eval()
    epsilon = 0.2
    virtual = VirtualAdversary(model, epsilon)
    adversarial = virtual.loss(forward(model)).item()
    # the same-sized random moves of each text, as the hooks would add them
    from textrnn.adversarial import along

    with torch.no_grad():
        vectors = model.embedding(IDS)
        clean = torch.log_softmax(model(IDS, LENGTHS)[0], -1)
        randoms = []
        generator = torch.Generator().manual_seed(1)
        for _ in range(20):
            move = along(vectors, torch.randn(vectors.shape, generator=generator), epsilon)
            per_text = move.pow(2).sum((1, 2)).sqrt()
            assert torch.allclose(per_text, epsilon * vectors.pow(2).sum((1, 2)).sqrt(), rtol=1e-4)
            handle = model.embedding.register_forward_hook(lambda m, i, out, move=move: out + move)
            randoms.append(_kl(clean, model(IDS, LENGTHS)[0]).item())
            handle.remove()
    virtual.remove()
    assert adversarial > max(randoms)


def test_a_model_without_word_vectors_or_a_bad_share_is_refused():
    with pytest.raises(ConfigError, match="no learned word embedding"):
        VirtualAdversary(torch.nn.GRU(2, 3), 0.02)
    with pytest.raises(ConfigError, match="train.virtual_adversarial must be between 0 and 1"):
        VirtualAdversary(classifier(), 1.5)


def loop(calls: list, unlabelled: bool = True) -> TaskLoop:
    def step(model, batch, carry):
        _, loss = model(batch.ids, batch.lengths, batch.targets)
        return loss, None

    def evaluate(model):
        with torch.no_grad():
            _, loss = model(IDS, LENGTHS, LABELS)
        return {"loss": float(loss)}

    def unlabelled_batches(epoch):
        for row in range(3):       # three one-text batches: an epoch of more steps cycles through them
            yield Batch(ids=IDS[row:row + 1], lengths=LENGTHS[row:row + 1])

    def logits(model, batch):
        calls.append(batch.ids[0, 0].item())
        return model(batch.ids, batch.lengths)[0]

    return TaskLoop(batches=lambda epoch: [Batch(ids=IDS, lengths=LENGTHS, targets=LABELS)] * 4, step=step,
                    evaluate=evaluate, unlabelled=unlabelled_batches if unlabelled else None, logits=logits)


@pytest.mark.parametrize("members", [1, 2])
def test_fit_takes_three_passes_over_an_unlabelled_batch_per_step_learns_and_leaves_no_hooks(members):
    model = classifier(members)
    calls = []
    history = fit(model, loop(calls), TrainConfig(epochs=20, lr=0.05, virtual_adversarial=0.05, seed=0), quiet=True)
    assert len(calls) == 3 * 4 * 20                       # four steps an epoch, three passes each
    assert calls[:12] == [5] * 3 + [10] * 3 + [13] * 3 + [5] * 3    # the three unlabelled batches, cycled
    losses = [row["valid_loss"] for row in history.epochs]
    assert losses[-1] < 0.5 * losses[0]
    embeddings = [m for m in model.modules() if isinstance(m, LearnedEmbedding)]
    assert all(not e._forward_hooks for e in embeddings)


def test_the_third_pass_changes_the_step():
    plain, virtual = classifier(), classifier()
    fit(plain, loop([]), TrainConfig(epochs=1, lr=0.05, optimizer="sgd", seed=0), quiet=True)
    fit(virtual, loop([]), TrainConfig(epochs=1, lr=0.05, optimizer="sgd", virtual_adversarial=0.05, seed=0),
        quiet=True)
    assert not torch.allclose(plain.output.weight, virtual.output.weight)


def test_without_unlabelled_texts_the_setting_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"needs unlabelled texts.*data.extra.*unlabelled="):
        fit(classifier(), loop([], unlabelled=False), TrainConfig(epochs=1, virtual_adversarial=0.05), quiet=True)
    with pytest.raises(ConfigError, match="unlabelled_batch_size must be at least 1"):
        fit(classifier(), loop([]), TrainConfig(epochs=1, virtual_adversarial=0.05, unlabelled_batch_size=0),
            quiet=True)


def test_a_pipeline_trains_on_unlabelled_texts_it_is_given():
    from textrnn.corpus import Example
    from textrnn.pipeline import Pipeline

    train = [Example(text=t, label=label) for t, label in
             [("good fine film", "pos"), ("bad awful film", "neg"), ("great fine story", "pos"),
              ("dull bad story", "neg")] * 4]
    pipe = Pipeline.for_task("classify", train=train, model={"hidden_dim": 4, "embedding": {"kind": "learned", "dim": 4}},
                             train_config={"epochs": 1, "virtual_adversarial": 0.05, "unlabelled_batch_size": 2},
                             quiet=True)
    with pytest.raises(ConfigError, match="needs unlabelled texts"):
        pipe.fit(train, train, quiet=True)
    history = pipe.fit(train, train, unlabelled=["a fine film", "an awful story", "good"], quiet=True)
    assert len(history.epochs) == 1


def test_a_tagger_trains_on_unlabelled_sentences_token_by_token():
    from textrnn.corpus import Example
    from textrnn.pipeline import Pipeline

    train = [Example(tokens=words, tags=tags) for words, tags in
             [(["Anna", "lives", "in", "Paris"], ["B-PER", "O", "O", "B-LOC"]),
              (["Bob", "visited", "Rome", "today"], ["B-PER", "O", "B-LOC", "O"])] * 4]
    pipe = Pipeline.for_task("tag", train=train, char_features=True,
                             model={"hidden_dim": 4, "char_dim": 4, "char_hidden": 4, "crf": True,
                                    "embedding": {"kind": "learned", "dim": 4}},
                             train_config={"epochs": 2, "virtual_adversarial": 0.05, "unlabelled_batch_size": 2},
                             quiet=True)
    history = pipe.fit(train, train, unlabelled=["Carl flew to Oslo.", "Dana met Eve in Lima today.", "  "],
                       quiet=True)
    assert len(history.epochs) == 2
    from textrnn.tasks import tag

    loop = tag.loop(pipe, pipe.encode(train), pipe.encode(train), pipe.config.train,
                    unlabelled=pipe.encode([Example(text="Carl flew to Oslo today .")], with_labels=False))
    batch = next(loop.unlabelled(0))
    assert loop.logits(pipe.model, batch).shape == (6, len(pipe.labels))   # one row of scores per real token


def test_sentences_are_cut_at_stops_before_capitals_but_not_after_initials_or_titles():
    from textrnn.tokenize import split_sentences

    text = ("Pretax net rose 12 pct.\n    It said Mr. Smith and J. Doe left the U.S. Army on Monday. "
            "\"It is fine,\" he said. 10 people came! Why? the end")
    assert split_sentences(text) == ["Pretax net rose 12 pct.", "It said Mr. Smith and J. Doe left the U.S. Army on Monday.",
                                     "\"It is fine,\" he said.", "10 people came!", "Why? the end"]
    assert split_sentences("  ") == []
    assert split_sentences('He said "go." Then he left.') == ['He said "go."', "Then he left."]   # quotes stay


def test_a_recipe_reads_its_unlabelled_texts_only_for_virtual_adversarial_training(monkeypatch):
    import textrnn.corpus as corpus
    from textrnn.recipes import DataSettings, Recipe, _unlabelled

    monkeypatch.setattr(corpus, "load_extra_text", lambda spec, name, data_dir=None, setting="": [
        "Alpha Corp said profits rose. Reuter", "Beta Inc fell five pct. It closed lower today."])
    tagger = Recipe(task="tag", data=DataSettings(corpus="conll2003", unlabelled="reuters:raw_text"),
                    train={"virtual_adversarial": 0.02})
    assert _unlabelled(tagger, None, quiet=True) == ["Alpha Corp said profits rose.", "Beta Inc fell five pct.",
                                                     "It closed lower today."]
    tagger.data.unlabelled_limit = 1
    assert _unlabelled(tagger, None, quiet=True) == ["Alpha Corp said profits rose."]
    off = Recipe(task="tag", data=DataSettings(corpus="conll2003", unlabelled="reuters:raw_text"))
    assert _unlabelled(off, None, quiet=True) is None
