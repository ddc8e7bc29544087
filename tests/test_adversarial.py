"""Adversarial training on the word vectors: the perturbation's size and direction, and what the loop does with it."""
import pytest
import torch

from textrnn.embeddings import EmbeddingConfig, LearnedEmbedding
from textrnn.encode import Batch
from textrnn.errors import ConfigError
from textrnn.models.classifier import ClassifierConfig, build_classifier
from textrnn.train import TaskLoop, TrainConfig, fit
from textrnn.train.adversarial import EmbeddingAdversary


def classifier(members=1):
    torch.manual_seed(0)
    config = ClassifierConfig(embedding=EmbeddingConfig(kind="learned", dim=6), hidden_dim=5, pooling="max",
                              members=members)
    return build_classifier(config, vocab_size=30, num_classes=3)


def texts():
    ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0], [13, 14, 15, 16, 0]])
    return ids, torch.tensor([5, 3, 4]), torch.tensor([0, 1, 2])


@pytest.mark.parametrize("epsilon", [0.01, 0.1])
def test_each_text_moves_by_its_share_of_its_norm_along_the_gradient_and_the_loss_rises(epsilon):
    model = classifier().eval()          # no dropout: the two passes differ only by the perturbation
    ids, lengths, labels = texts()
    adversary = EmbeddingAdversary(model, epsilon)
    with adversary.recording():
        _, clean = model(ids, lengths, labels)
    clean.backward()
    vectors = adversary._outputs[0]
    grad = vectors.grad.clone()
    with adversary.perturbing():
        _, perturbed = model(ids, lengths, labels)
    expected = adversary.perturbation(vectors)   # what the pass above added
    for text in range(len(ids)):
        moved = expected[text]
        assert moved.norm().item() == pytest.approx(epsilon * vectors[text].detach().norm().item(), rel=1e-5)
        cosine = torch.nn.functional.cosine_similarity(moved.flatten(), grad[text].flatten(), dim=0)
        assert cosine.item() == pytest.approx(1.0, abs=1e-5)
    assert perturbed.item() > clean.item()        # the gradient's direction raises the loss
    # outside the two blocks the hooks change nothing
    _, again = model(ids, lengths, labels)
    assert again.item() == pytest.approx(clean.item())


def test_the_perturbation_is_added_to_the_vectors_of_the_second_pass():
    model = classifier().eval()
    ids, lengths, labels = texts()
    adversary = EmbeddingAdversary(model, 0.05)
    with adversary.recording():
        _, clean = model(ids, lengths, labels)
    clean.backward()
    recorded = adversary._outputs[0].detach().clone()
    expected = adversary.perturbation(adversary._outputs[0])
    seen = []
    handle = model.embedding.register_forward_hook(lambda module, inputs, output: seen.append(output.detach()))
    with adversary.perturbing():
        model(ids, lengths, labels)
    handle.remove()
    # hooks run in the order they were registered, so ours saw the vectors after the adversary's
    assert torch.allclose(seen[0], recorded + expected, atol=1e-6)


def loop_counting_steps(model_calls):
    ids, lengths, labels = texts()

    def batches(epoch):
        return [Batch(ids=ids, lengths=lengths, targets=labels)]

    def step(model, batch, carry):
        model_calls.append(1)
        _, loss = model(batch.ids, batch.lengths, batch.targets)
        return loss, None

    def evaluate(model):
        with torch.no_grad():
            _, loss = model(ids, lengths, labels)
        return {"loss": float(loss)}

    return TaskLoop(batches=batches, step=step, evaluate=evaluate)


@pytest.mark.parametrize("members", [1, 2])
def test_fit_takes_a_second_pass_per_step_learns_and_leaves_no_hooks(members):
    model = classifier(members)
    calls = []
    history = fit(model, loop_counting_steps(calls), TrainConfig(epochs=30, lr=0.05, adversarial=0.05, seed=0),
                  quiet=True)
    assert len(calls) == 2 * 30                   # one batch an epoch, two passes each
    losses = [row["valid_loss"] for row in history.epochs]
    assert losses[-1] < 0.5 * losses[0]
    embeddings = [m for m in model.modules() if isinstance(m, LearnedEmbedding)]
    assert len(embeddings) == members and all(not e._forward_hooks for e in embeddings)


def test_an_interrupted_fit_leaves_no_hooks_either():
    model = classifier()
    loop = loop_counting_steps([])
    evaluate = loop.evaluate

    def interrupted(model):
        evaluate(model)
        raise KeyboardInterrupt

    loop.evaluate = interrupted
    with pytest.raises(KeyboardInterrupt):
        fit(model, loop, TrainConfig(epochs=3, lr=0.05, adversarial=0.05, seed=0), quiet=True)
    assert not model.embedding._forward_hooks


def test_frozen_vectors_are_still_perturbed():
    model = classifier().eval()
    model.embedding.weight.requires_grad_(False)
    ids, lengths, labels = texts()
    adversary = EmbeddingAdversary(model, 0.05)
    with adversary.recording():
        _, clean = model(ids, lengths, labels)
    clean.backward()
    moved = adversary.perturbation(adversary._outputs[0])
    assert moved.norm().item() > 0
    assert model.embedding.weight.grad is None      # the vectors themselves stay frozen


def test_the_second_pass_changes_the_step():
    # SGD: Adam's first step has the same size whatever the gradient's, so it would hide the second pass
    plain, adversarial = classifier(), classifier()
    fit(plain, loop_counting_steps([]), TrainConfig(epochs=1, lr=0.05, optimizer="sgd", seed=0), quiet=True)
    fit(adversarial, loop_counting_steps([]), TrainConfig(epochs=1, lr=0.05, optimizer="sgd", adversarial=0.05, seed=0),
        quiet=True)
    assert not torch.allclose(plain.output.weight, adversarial.output.weight)


def test_a_model_without_word_vectors_or_a_bad_share_is_refused():
    gru = torch.nn.GRU(2, 3)
    with pytest.raises(ConfigError, match="no learned word embedding"):
        EmbeddingAdversary(gru, 0.02)
    with pytest.raises(ConfigError, match="train.adversarial must be between 0 and 1"):
        EmbeddingAdversary(classifier(), 1.5)


def tagger():
    from textrnn.models.tagger import Tagger, TaggerConfig

    torch.manual_seed(0)
    config = TaggerConfig(embedding=EmbeddingConfig(kind="learned", dim=6), hidden_dim=5, char_dim=4,
                          char_vocab_size=12, char_hidden=3, casing_dim=0)
    return Tagger(config, vocab_size=30, num_tags=3).eval()


def test_with_chars_each_words_characters_move_too_and_the_loss_rises():
    model = tagger()
    ids, lengths, _ = texts()
    tags = torch.tensor([[0, 1, 2, 0, 1], [1, 1, 0, 0, 0], [2, 0, 1, 2, 0]])
    chars = torch.randint(1, 12, (3, 5, 4)) * (ids > 0)[..., None]
    adversary = EmbeddingAdversary(model, 0.1, chars=True)
    with adversary.recording():
        _, clean = model(ids, lengths, tags, chars=chars)
    clean.backward()
    words, characters = adversary._outputs                         # the word vectors, then each word's characters
    assert characters.shape == (int((ids > 0).sum()), 4, 4)        # one row per real word: (words, width, char_dim)
    moved = adversary.perturbation(characters)
    norms = moved.flatten(1).norm(dim=1)
    assert torch.allclose(norms, 0.1 * characters.detach().flatten(1).norm(dim=1), rtol=1e-4)
    with adversary.perturbing():
        _, perturbed = model(ids, lengths, tags, chars=chars)
    assert perturbed.item() > clean.item()
    adversary.remove()
    assert not model.chars.embedding._forward_hooks
    plain = EmbeddingAdversary(model, 0.1)                       # words only: one recorded output
    with plain.recording():
        model(ids, lengths, tags, chars=chars)
    assert len(plain._outputs) == 1


def test_chars_without_a_character_encoder_are_refused():
    with pytest.raises(ConfigError, match="adversarial_chars.*char_dim"):
        EmbeddingAdversary(classifier(), 0.02, chars=True)
