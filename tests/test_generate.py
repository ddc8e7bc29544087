"""Generation, scoring and blank filling against tiny language models written here.

``TableLM`` is an n-gram model whose next-token probabilities are set by hand (or counted from a small text),
so expected rankings are exact; its state holds the last n-1 ids, which exercises state carrying and beam
reordering. ``TinyLSTM`` (random weights) checks the same code on a real recurrent state (a tuple of tensors).
"""
from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from textrnn.errors import ConfigError, TextrnnError
from textrnn.tasks.lm.fill import _runs_into, complete, parse_blank, word_start
from textrnn.tasks.lm.sampling import GenerationConfig, generate, generate_ids
from textrnn.tasks.lm.scoring import rank, score
from textrnn.tokenize import CharTokenizer, SentencePieceTokenizer, WordTokenizer
from textrnn.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocab


class TableLM(nn.Module):
    """An n-gram language model: the next-token logits depend on the last ``order - 1`` ids (backing off to
    shorter contexts, then to uniform). The state is those ids, shaped (1, B, order - 1) like an nn.LSTM state."""

    def __init__(self, vocab_size: int, order: int = 2):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))    # gives the model a device
        self.vocab_size, self.order = vocab_size, order
        self.table: dict[tuple[int, ...], torch.Tensor] = {}
        self.calls: list[tuple[int, int]] = []          # (B, T) of every forward

    def set(self, context: tuple[int, ...], probs: dict[int, float], rest: float = 1e-4) -> None:
        """Next-token probabilities after ``context``; tokens not named share ``rest``."""
        named = sum(probs.values())
        others = self.vocab_size - len(probs)
        row = torch.full((self.vocab_size,), rest / max(1, others))
        for token, p in probs.items():
            row[token] = p / named * (1 - rest)
        self.table[tuple(context)] = row.log()

    @classmethod
    def counted(cls, sequences: list[list[int]], vocab_size: int, order: int, smoothing: float = 0.01) -> TableLM:
        model = cls(vocab_size, order)
        counts: dict[tuple[int, ...], torch.Tensor] = {}
        for ids in sequences:
            for i in range(1, len(ids)):
                for n in range(1, order):
                    if i - n >= 0:
                        counts.setdefault(tuple(ids[i - n:i]), torch.zeros(vocab_size))[ids[i]] += 1
        for context, row in counts.items():
            model.table[context] = ((row + smoothing) / (row.sum() + smoothing * vocab_size)).log()
        return model

    def init_state(self, batch_size: int, device) -> torch.Tensor:
        return torch.full((1, batch_size, self.order - 1), PAD_ID, dtype=torch.long, device=device)

    def row(self, context: list[int]) -> torch.Tensor:
        for n in range(len(context), 0, -1):
            key = tuple(context[len(context) - n:])
            if key in self.table:
                return self.table[key]
        return torch.zeros(self.vocab_size)

    def forward(self, ids, lengths=None, targets=None, state=None):
        batch, steps = ids.shape
        self.calls.append((batch, steps))
        contexts = (state if state is not None else self.init_state(batch, ids.device))[0].tolist()
        logits = torch.empty(batch, steps, self.vocab_size)
        for b in range(batch):
            context = [i for i in contexts[b] if i != PAD_ID]
            for t, token in enumerate(ids[b].tolist()):
                context = (context + [token])[-(self.order - 1):]
                logits[b, t] = self.row(context)
            contexts[b] = [PAD_ID] * (self.order - 1 - len(context)) + context
        loss = None
        if targets is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1))
        return logits + self.anchor, loss, torch.tensor(contexts, dtype=torch.long)[None]


class TinyLSTM(nn.Module):
    """Embedding -> 2-layer LSTM -> linear with random weights; the state is a (h, c) tuple."""

    def __init__(self, vocab_size: int, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(vocab_size, 16)
        self.rnn = nn.LSTM(16, 32, 2, batch_first=True, dropout=0.5)
        self.head = nn.Linear(32, vocab_size)
        with torch.no_grad():
            self.head.weight.mul_(8)    # peaked distributions: sampling differs clearly from uniform

    def init_state(self, batch_size, device):
        shape = (2, batch_size, 32)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def forward(self, ids, lengths=None, targets=None, state=None):
        output, state = self.rnn(self.embedding(ids), state)
        return self.head(output), None, state


WORDS = ["i", "drink", "coffee", "tea", "every", "morning", "at", "night", ".", "a", "b", "c", "x", "y", "z"]


@pytest.fixture
def words():
    vocab = Vocab(list(SPECIALS) + WORDS)
    return vocab, WordTokenizer(), TableLM(len(vocab), order=2)


def ids_of(vocab, text):
    return [vocab.stoi[w] for w in text.split()]


def naive_greedy(model, context, steps):
    """Greedy decoding that re-runs the whole prefix each step (the reference for state carrying)."""
    ids = list(context)
    with torch.no_grad():
        for _ in range(steps):
            logits, _, _ = model(torch.tensor([ids]), None, None)
            row = logits[0, -1].clone()
            row[[PAD_ID, UNK_ID, BOS_ID, EOS_ID]] = float("-inf")
            ids.append(int(row.argmax()))
    return ids[len(context):]


# ----- generation -------------------------------------------------------------------------------------------------
def test_seeded_sampling_is_repeatable():
    model = TinyLSTM(30)
    config = GenerationConfig(max_tokens=40, seed=7, stop_at_eos=False)
    first = generate_ids(model, [5, 6], config)
    assert first == generate_ids(model, [5, 6], config)
    assert len(first) == 40
    others = {tuple(generate_ids(model, [5, 6], GenerationConfig(max_tokens=40, seed=s, stop_at_eos=False)))
              for s in range(4)}
    assert len(others) > 1


def test_greedy_is_deterministic_and_carries_the_state():
    model = TinyLSTM(30)
    model.train()
    config = GenerationConfig(max_tokens=25, temperature=0, stop_at_eos=False)
    out = generate_ids(model, [7, 8, 9], config)
    assert out == generate_ids(model, [7, 8, 9], config)
    assert model.training, "the training flag is restored"
    model.eval()
    assert out == naive_greedy(model, [EOS_ID, 7, 8, 9], 25)


def test_prompt_is_fed_once_then_one_step_per_token(words):
    vocab, tokenizer, model = words
    model.calls.clear()
    generate_ids(model, ids_of(vocab, "i drink"), GenerationConfig(max_tokens=6, seed=0, stop_at_eos=False))
    assert model.calls == [(1, 3)] + [(1, 1)] * 5


def test_never_emits_pad_unk_bos_even_when_preferred(words):
    vocab, tokenizer, model = words
    for token in range(len(vocab)):
        model.set((token,), {PAD_ID: 0.3, UNK_ID: 0.3, BOS_ID: 0.3, vocab.stoi["a"]: 0.05, vocab.stoi["b"]: 0.05})
    configs = [GenerationConfig(max_tokens=30, seed=s) for s in range(3)]
    configs += [GenerationConfig(max_tokens=30, temperature=0), GenerationConfig(max_tokens=10, beam=3),
                GenerationConfig(max_tokens=30, top_k=2, seed=0), GenerationConfig(max_tokens=30, top_p=0.5, seed=0)]
    for config in configs:
        out = generate_ids(model, [], config)
        assert out and not {PAD_ID, UNK_ID, BOS_ID} & set(out)
        assert "<" not in generate(model, tokenizer, vocab, "", config)


def test_stops_at_eos(words):
    vocab, tokenizer, model = words
    i, drink = vocab.stoi["i"], vocab.stoi["drink"]
    model.set((EOS_ID,), {i: 1.0})
    model.set((i,), {drink: 1.0})
    model.set((drink,), {EOS_ID: 0.98, i: 0.02})
    greedy = GenerationConfig(max_tokens=20, temperature=0)
    assert generate_ids(model, [], greedy) == [i, drink]
    assert generate(model, tokenizer, vocab, "", greedy) == "i drink"
    assert generate(model, tokenizer, vocab, "", GenerationConfig(max_tokens=20, beam=3)) == "i drink"
    running = generate_ids(model, [], GenerationConfig(max_tokens=7, temperature=0, stop_at_eos=False))
    assert len(running) == 7 and EOS_ID not in running


def test_top_k_one_and_tiny_top_p_equal_greedy():
    model = TinyLSTM(30, seed=3)
    greedy = generate_ids(model, [4], GenerationConfig(max_tokens=20, temperature=0, stop_at_eos=False))
    for seed in range(3):
        for settings_ in ({"top_k": 1}, {"top_p": 1e-6}):
            config = GenerationConfig(max_tokens=20, seed=seed, stop_at_eos=False, **settings_)
            assert generate_ids(model, [4], config) == greedy


def test_top_k_and_top_p_cut_the_tail(words):
    vocab, tokenizer, model = words
    a, b, c = vocab.stoi["a"], vocab.stoi["b"], vocab.stoi["c"]
    for token in range(len(vocab)):
        model.set((token,), {a: 0.6, b: 0.3, c: 0.1}, rest=1e-9)
    for config in (GenerationConfig(max_tokens=200, seed=1, top_k=2),
                   GenerationConfig(max_tokens=200, seed=1, top_p=0.85)):
        out = generate_ids(model, [], config)
        assert set(out) == {a, b}
    assert c in generate_ids(model, [], GenerationConfig(max_tokens=200, seed=1))


def test_beam_one_equals_greedy():
    model = TinyLSTM(30, seed=5)
    greedy = generate_ids(model, [3], GenerationConfig(max_tokens=15, temperature=0, stop_at_eos=False))
    assert generate_ids(model, [3], GenerationConfig(max_tokens=15, beam=1, temperature=0, stop_at_eos=False)) == greedy


def test_beam_beats_myopic_greedy(words):
    vocab, tokenizer, model = words
    a, b, c = vocab.stoi["a"], vocab.stoi["b"], vocab.stoi["c"]
    spread = [vocab.stoi[w] for w in ("x", "y", "z", "i", "drink")]
    model.set((EOS_ID,), {a: 0.6, b: 0.4})
    model.set((a,), {t: 0.2 for t in spread})        # after a, nothing is likely
    model.set((b,), {c: 1.0})                        # after b, c is nearly certain (all but 1e-4)
    greedy = generate(model, tokenizer, vocab, "", GenerationConfig(max_tokens=2, temperature=0, stop_at_eos=False))
    beam = generate(model, tokenizer, vocab, "", GenerationConfig(max_tokens=2, beam=3, stop_at_eos=False))
    assert greedy.startswith("a ") and beam == "b c"
    scored = {r["text"]: r["logprob"] for r in score(model, tokenizer, vocab, [greedy, beam], add_eos=False)}
    assert scored[beam] > scored[greedy]
    assert scored[beam] == pytest.approx(math.log(0.4 * (1 - 1e-4)) + math.log(1 - 1e-4), abs=1e-5)


def test_beam_search_reorders_a_tuple_state():
    model = TinyLSTM(30, seed=2)
    out = generate_ids(model, [5], GenerationConfig(max_tokens=12, beam=4, stop_at_eos=False))
    assert len(out) == 12 and not {PAD_ID, UNK_ID, BOS_ID, EOS_ID} & set(out)
    greedy = generate_ids(model, [5], GenerationConfig(max_tokens=12, temperature=0, stop_at_eos=False))

    def total(ids):
        context = [EOS_ID, 5]
        with torch.no_grad():
            logits, _, _ = model.eval()(torch.tensor([context + ids]))
        logprobs = logits[0].log_softmax(-1)
        return sum(float(logprobs[len(context) - 1 + i, t]) for i, t in enumerate(ids))

    assert total(out) >= total(greedy) - 1e-4


def test_word_and_sentencepiece_continuations_read_well(words):
    vocab, tokenizer, model = words
    i, drink, coffee = (vocab.stoi[w] for w in ("i", "drink", "coffee"))
    model.set((i,), {drink: 1.0})
    model.set((drink,), {coffee: 1.0})
    model.set((coffee,), {vocab.stoi["."]: 1.0})
    model.set((vocab.stoi["."],), {EOS_ID: 1.0})
    greedy = GenerationConfig(max_tokens=5, temperature=0)
    assert generate(model, tokenizer, vocab, "i", greedy) == " drink coffee."
    assert generate(model, tokenizer, vocab, "i ", greedy) == "drink coffee."
    spm = SentencePieceTokenizer.train(["i drink coffee every morning", "you drink tea at night"] * 20, vocab_size=320)
    pieces = spm.vocab()
    lm = TableLM.counted([[EOS_ID] + pieces.encode(spm.tokenize(t)) + [EOS_ID]
                          for t in ["i drink coffee every morning"] * 5], len(pieces), order=4)
    text = generate(lm, spm, pieces, "i drink", GenerationConfig(max_tokens=20, temperature=0))
    assert text.startswith(" ") and ("i drink" + text).startswith("i drink coffee")
    char = CharTokenizer()
    chars = Vocab(list(SPECIALS) + sorted(set("i drink coffee")))
    lm = TableLM.counted([[EOS_ID] + chars.encode(list("i drink coffee")) + [EOS_ID]] * 3, len(chars), order=4)
    assert generate(lm, char, chars, "i dr", GenerationConfig(max_tokens=10, temperature=0)) == "ink coffee"


def test_generation_config_checks_values():
    for bad in ({"top_p": 0.0}, {"top_p": 1.5}, {"beam": 0}, {"top_k": -1}, {"max_tokens": -1}, {"seed": "x"},
                {"temperature": float("nan")}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            GenerationConfig(**bad)
    with pytest.raises(TextrnnError):
        generate_ids(TinyLSTM(10), [], GenerationConfig(), start_id=None)


# ----- scoring ----------------------------------------------------------------------------------------------------
def test_score_matches_a_manual_computation(words):
    vocab, tokenizer, model = words
    i, drink, coffee = (vocab.stoi[w] for w in ("i", "drink", "coffee"))
    model.set((EOS_ID,), {i: 0.5, drink: 0.5})
    model.set((i,), {drink: 0.9, coffee: 0.1})
    model.set((drink,), {coffee: 0.7, EOS_ID: 0.3})
    model.set((coffee,), {EOS_ID: 0.8, i: 0.2})
    [result] = score(model, tokenizer, vocab, ["i drink coffee"])
    expected = [0.5, 0.9, 0.7, 0.8]
    manual = [math.log(p * (1 - 1e-4)) for p in expected]
    assert [t["token"] for t in result["tokens"]] == ["i", "drink", "coffee", "<eos>"]
    assert [t["logprob"] for t in result["tokens"]] == pytest.approx(manual, abs=1e-5)
    assert result["logprob"] == sum(t["logprob"] for t in result["tokens"])
    assert result["logprob"] == pytest.approx(sum(manual), abs=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(-sum(manual) / 4), rel=1e-5)
    assert result["unknown"] == [] and result["text"] == "i drink coffee"
    [no_eos] = score(model, tokenizer, vocab, ["i drink coffee"], add_eos=False)
    assert no_eos["logprob"] == pytest.approx(sum(manual[:3]), abs=1e-5)


def test_score_batches_like_one_at_a_time():
    vocab = Vocab(list(SPECIALS) + WORDS)
    model = TinyLSTM(len(vocab), seed=4)
    tokenizer = WordTokenizer()
    sentences = ["i drink coffee every morning .", "tea", "", "a b c x y z i drink tea at night", "i drink mead"]
    together = score(model, tokenizer, vocab, sentences)
    alone = [score(model, tokenizer, vocab, [s])[0] for s in sentences]
    for a, b in zip(together, alone, strict=True):
        assert a["text"] == b["text"]
        assert a["logprob"] == pytest.approx(b["logprob"], abs=1e-4)
        assert a["logprob"] == sum(t["logprob"] for t in a["tokens"])
    assert together[4]["unknown"] == ["mead"] and together[2]["tokens"][0]["token"] == "<eos>"
    assert score(model, tokenizer, vocab, [""], add_eos=False)[0] == {
        "text": "", "logprob": 0, "perplexity": 1.0, "tokens": [], "unknown": []}
    with pytest.raises(TypeError):
        score(model, tokenizer, vocab, "a sentence")


def test_rank_is_by_total_logprob():
    results = [{"text": "short bad", "logprob": -9.0, "perplexity": 20.0},
               {"text": "best", "logprob": -2.0, "perplexity": 7.4},
               {"text": "long fluent", "logprob": -5.0, "perplexity": 1.9}]
    assert [r["text"] for r in rank(results)] == ["best", "long fluent", "short bad"]
    assert [r["text"] for r in rank(results, by="perplexity")] == ["long fluent", "best", "short bad"]
    with pytest.raises(ValueError):
        rank(results, by="length")


# ----- blanks -----------------------------------------------------------------------------------------------------
def test_parse_blank():
    assert parse_blank("i drink ___ every morning") == ("i drink ", " every morning")
    assert parse_blank("나는 오늘 짝꿍과 밥을 ___.") == ("나는 오늘 짝꿍과 밥을 ", ".")
    assert parse_blank("______") == ("", "")
    assert parse_blank("a__b ____ c") == ("a__b ", " c")
    with pytest.raises(TextrnnError, match="no blank"):
        parse_blank("no blank here __")
    with pytest.raises(TextrnnError, match="2 blanks"):
        parse_blank("___ and ___")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
                          st.sampled_from(["_", "__", "___", "____", "가", "\u0301", "😀", "\x00", "\n", "é"])),
                max_size=10).map("".join))
def test_parse_blank_property(text):
    try:
        before, after = parse_blank(text)
    except TextrnnError:
        assert len(re.findall("_{3,}", text)) != 1
        return
    middle = text[len(before):len(text) - len(after)]
    assert re.fullmatch("_{3,}", middle)
    assert not before.endswith("_") and not after.startswith("_")
    assert before + "___" + after == re.sub("_{3,}", "___", text)


def test_word_start():
    assert word_start("coffee", WordTokenizer()) and word_start(".", WordTokenizer())
    assert word_start(" ", CharTokenizer()) and not word_start("c", CharTokenizer())

    class Pieces:
        kind = "sentencepiece"

    assert word_start("▁coffee", Pieces()) and not word_start("fee", Pieces())


def test_complete_ranks_candidates_by_the_words_after_the_blank(words):
    vocab, tokenizer, model = words
    i, drink, coffee, tea, every, morning = (vocab.stoi[w] for w in ("i", "drink", "coffee", "tea", "every", "morning"))
    model.set((EOS_ID,), {i: 1.0})
    model.set((i,), {drink: 1.0})
    model.set((drink,), {tea: 0.55, coffee: 0.45})   # before the blank tea is (slightly) likelier
    model.set((coffee,), {every: 0.9, vocab.stoi["at"]: 0.1})
    model.set((tea,), {every: 0.1, vocab.stoi["at"]: 0.9})
    model.set((every,), {morning: 1.0})
    model.set((morning,), {EOS_ID: 1.0})
    result = complete(model, tokenizer, vocab, "i drink ___ every morning", candidates=["tea", "coffee"])
    assert result["text"] == "i drink ___ every morning"
    assert [f["fill"] for f in result["fills"]] == ["coffee", "tea"]
    assert result["fills"][0]["sentence"] == "i drink coffee every morning"
    assert sum(f["probability"] for f in result["fills"]) == pytest.approx(1.0)
    gap = result["fills"][0]["logprob"] - result["fills"][1]["logprob"]
    assert gap == pytest.approx(math.log(0.45 * 0.9 / (0.55 * 0.1)), abs=1e-3)
    with pytest.raises(TextrnnError):
        complete(model, tokenizer, vocab, "i drink ___ every morning", candidates=[])


def test_complete_proposes_a_korean_fill():
    words = ["나는", "오늘", "짝꿍과", "밥을", "먹었다", "샀다", "학교에", "갔다", "."]
    vocab = Vocab(list(SPECIALS) + words)
    model = TableLM(len(vocab), order=2)
    s = vocab.stoi
    model.set((EOS_ID,), {s["나는"]: 1.0})
    model.set((s["나는"],), {s["오늘"]: 1.0})
    model.set((s["오늘"],), {s["짝꿍과"]: 1.0})
    model.set((s["짝꿍과"],), {s["밥을"]: 1.0})
    model.set((s["밥을"],), {s["먹었다"]: 0.6, s["샀다"]: 0.3, s["학교에"]: 0.1})
    model.set((s["먹었다"],), {s["."]: 0.9, s["학교에"]: 0.1})
    model.set((s["샀다"],), {s["."]: 0.9, s["학교에"]: 0.1})
    model.set((s["학교에"],), {s["갔다"]: 1.0})
    model.set((s["갔다"],), {s["."]: 1.0})
    model.set((s["."],), {EOS_ID: 1.0})
    result = complete(model, WordTokenizer(), vocab, "나는 오늘 짝꿍과 밥을 ___.", top=3)
    fills = [f["fill"] for f in result["fills"]]
    assert fills[:2] == ["먹었다", "샀다"] and len(fills) == 3
    assert result["fills"][0]["sentence"] == "나는 오늘 짝꿍과 밥을 먹었다."
    assert 0.5 < result["fills"][0]["probability"] < 1
    assert all("." not in f for f in fills)
    probabilities = [f["probability"] for f in result["fills"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-9


def test_complete_drops_fills_that_run_on_into_the_words_after_the_blank():
    words = ["the", "company", "reported", "a", "net", "loss", "profit", "of", "$", "N", "million"]
    vocab = Vocab(list(SPECIALS) + words)
    s = vocab.stoi
    model = TableLM(len(vocab), order=2)
    for left, right in zip(["the", "company", "reported", "a"], ["company", "reported", "a", "net"], strict=True):
        model.set((s[left],), {s[right]: 1.0})
    model.set((EOS_ID,), {s["the"]: 1.0})
    model.set((s["net"],), {s["loss"]: 0.6, s["profit"]: 0.4})
    model.set((s["loss"],), {s["of"]: 1.0})
    model.set((s["profit"],), {s["of"]: 1.0})
    model.set((s["of"],), {s["$"]: 1.0})
    model.set((s["$"],), {s["N"]: 1.0})
    model.set((s["N"],), {s["million"]: 1.0})
    model.set((s["million"],), {EOS_ID: 0.5, s["of"]: 0.5})
    result = complete(model, WordTokenizer(), vocab, "the company reported a net ___ of $ N million", top=5)
    fills = [f["fill"] for f in result["fills"]]
    assert fills[:2] == ["loss", "profit"]
    # the beam also reaches "loss of $ N million", which would make the sentence say "of $ N million" twice
    after = ["of", "$", "N", "million"]
    assert not [f for f in fills if " of" in f]
    assert _runs_into("loss of", after) and _runs_into("loss of $ n", ["of", "$", "n", "million"])
    assert not _runs_into("that", ["that", "it", "works"])      # the fill alone is the scoring's to judge
    assert not _runs_into("great loss", after)
    assert _runs_into("loss of $ n million or n cents", ["of", "$", "n", "million"])   # past the words that follow
    assert not _runs_into("went to the park", ["to", "school"])


ENGLISH = ["i drink coffee every morning", "i drink tea at night", "we drink tea at noon"]


def test_complete_proposes_whole_words_with_characters():
    tokenizer = CharTokenizer()
    vocab = Vocab(list(SPECIALS) + sorted(set("".join(ENGLISH))))
    model = TableLM.counted([[EOS_ID] + vocab.encode(list(t)) + [EOS_ID] for t in ENGLISH * 3], len(vocab), order=6)
    result = complete(model, tokenizer, vocab, "i drink ___ every morning", top=2)
    assert [f["fill"] for f in result["fills"]] == ["coffee", "tea"]
    assert result["fills"][0]["sentence"] == "i drink coffee every morning"
    night = complete(model, tokenizer, vocab, "i drink ___", top=3)
    assert "tea at night" in [f["fill"] for f in night["fills"]]


def test_complete_proposes_whole_words_with_sentencepiece():
    tokenizer = SentencePieceTokenizer.train(ENGLISH * 20, vocab_size=320)
    vocab = tokenizer.vocab()
    model = TableLM.counted([[EOS_ID] + vocab.encode(tokenizer.tokenize(t)) + [EOS_ID] for t in ENGLISH * 3],
                            len(vocab), order=6)
    result = complete(model, tokenizer, vocab, "i drink ___ every morning", top=2)
    assert result["fills"][0]["fill"] == "coffee"
    assert result["fills"][0]["sentence"] == "i drink coffee every morning"
    glued = complete(model, tokenizer, vocab, "i drink___ every morning", top=1)
    assert glued["fills"][0]["sentence"] == "i drink coffee every morning"
