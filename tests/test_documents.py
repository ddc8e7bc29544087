"""Document context in the tagger: CoNLL's -DOCSTART- sections read into ``meta["doc"]``, sentences of one document
tagged together in windows (``encode.document_window``), and the predictions split back per sentence."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import textrnn
from textrnn.corpus import Example, read_examples
from textrnn.pipeline import Pipeline
from textrnn.tasks import tag
from textrnn.tasks.tag import document_windows


def test_conll_reader_numbers_the_documents(tmp_path):
    path = tmp_path / "two.conll"
    path.write_text("-DOCSTART- -X- O\n\nParis NNP B-LOC\n\nRome NNP B-LOC\n\n-DOCSTART- -X- O\n\n"
                    "Bonn NNP B-LOC\n", encoding="utf-8")
    assert [e.meta["doc"] for e in read_examples(path)] == [0, 0, 1]
    plain = tmp_path / "plain.conll"
    plain.write_text("Paris NNP B-LOC\n\nRome NNP B-LOC\n", encoding="utf-8")
    assert all("doc" not in e.meta for e in read_examples(plain))


def test_document_windows_by_hand():
    #                      doc 0 ........  doc 1 ...  none  none
    docs, lengths = [0, 0, 0, 0, 1, 1, None, None], [3, 4, 9, 2, 1, 1, 2, 2]
    assert document_windows(docs, lengths, 8) == [[0, 1], [2], [3], [4, 5], [6], [7]]
    assert document_windows(docs, lengths, 100) == [[0, 1, 2, 3], [4, 5], [6], [7]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, 0, 1, 2]), st.integers(0, 12)), max_size=30), st.integers(1, 20))
def test_document_windows_keep_order_documents_and_width(sentences, width):
    # documents as a reader gives them: each one's sentences consecutive
    sentences = sorted(sentences, key=lambda s: -1 if s[0] is None else s[0])
    docs, lengths = [d for d, _ in sentences], [n for _, n in sentences]
    windows = document_windows(docs, lengths, width)
    assert [i for w in windows for i in w] == list(range(len(docs)))       # every sentence once, in order
    for w in windows:
        assert len({docs[i] for i in w}) == 1                                # one document a window
        assert len(w) == 1 or (docs[w[0]] is not None and sum(lengths[i] for i in w) <= width)
    for a, b in zip(windows, windows[1:], strict=False):                     # a window ends only when it must
        if docs[a[0]] is not None and docs[a[0]] == docs[b[0]]:
            assert sum(lengths[i] for i in a) + lengths[b[0]] > width


def _topic_documents(count: int, seed: int) -> list[Example]:
    """Two-sentence documents: the first names a topic, the second says 'it ...', and 'it' is tagged with the
    topic's type, which only the first sentence tells."""
    rng = random.Random(seed)
    examples = []
    for doc in range(count):
        topic = rng.choice(["alpha", "beta"])
        verb = rng.choice(["runs", "stops", "waits"])
        examples.append(Example(tokens=["topic", topic, "."], tags=["O", "O", "O"], meta={"doc": doc}))
        examples.append(Example(tokens=["it", verb, "."], tags=[f"B-{topic.upper()}", "O", "O"], meta={"doc": doc}))
    return examples


@pytest.mark.parametrize("window", [0, 16])
def test_a_tagger_reads_a_sentence_in_its_document_only_with_a_window(window, tmp_path):
    train, valid = _topic_documents(150, seed=0), _topic_documents(40, seed=1)
    tagger = Pipeline.for_task("tag", train=train, tokenizer="word", encode={"document_window": window},
                               model={"hidden_dim": 16, "embedding": {"dim": 8}},
                               train_config={"epochs": 25, "batch_size": 8, "lr": 0.01, "seed": 0}, quiet=True)
    tagger.fit(train, valid, quiet=True)
    f1 = tagger.evaluate(valid)["f1"]
    if window:
        assert f1 == 1.0
        encoded = tag.encode(tagger, valid)
        assert encoded.groups == [[2 * d, 2 * d + 1] for d in range(40)]
        paths, _ = tag.decode(tagger, encoded)
        assert [len(p) for p in paths] == [3] * 80                              # split back per sentence
        tagger.save(tmp_path / "tagger")                                        # the window is saved with it
        again = textrnn.load(tmp_path / "tagger")
        assert again.config.encode.document_window == window
        assert again.evaluate(valid)["f1"] == 1.0
        # a sentence with no document is tagged alone, as plain text always is
        assert tag.encode(again, [Example(tokens=["it", "runs", "."])], with_labels=False).groups is None
    else:
        assert f1 < 0.8           # alone, 'it' is alpha or beta by chance


def test_a_negative_window_is_refused_by_name():
    from textrnn.errors import ConfigError

    with pytest.raises(ConfigError, match="encode.document_window"):
        Pipeline.for_task("tag", train=_topic_documents(2, seed=0), encode={"document_window": -1}, quiet=True)
