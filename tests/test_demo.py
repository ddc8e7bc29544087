"""The completion demo's items: well formed, and the news items fair to a PTB model (no word it cannot know)."""
from __future__ import annotations

from collections import Counter

import pytest
from conftest import needs_data

from textrnn.blanks import read_choices
from textrnn.corpus import load_corpus
from textrnn.demo import CHOICES, COURSE_BLANKS, ENGLISH_BLANKS, NEWS_BLANKS
from textrnn.recipes import recipes_dir
from textrnn.tasks.lm.fill import parse_blank

NEWS_CHOICES = read_choices(recipes_dir() / CHOICES["news"])


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_each_item_has_one_blank_and_distinct_fills(name):
    items = read_choices(recipes_dir() / CHOICES[name])
    assert len(items) >= (12 if name == "news" else 60)
    for text, options in items:
        parse_blank(text)                       # raises unless exactly one blank
        assert len(options) == len(set(options)) >= 2, text


def test_the_shown_blanks_parse():
    for text in COURSE_BLANKS + ENGLISH_BLANKS + NEWS_BLANKS:
        parse_blank(text)


@pytest.mark.data
@needs_data("ptb")
def test_every_news_word_is_in_the_ptb_training_text():
    """A word outside PTB's vocabulary would be scored as <unk>, one of its commonest tokens: the item would be
    unfair (an unknown wrong fill could win). Every word of the items must occur in ptb.train several times."""
    counts = Counter(word for example in load_corpus("ptb").train for word in (example.text or "").split())
    words = {w for text, options in NEWS_CHOICES for w in text.replace("___", " ").split() + options}
    words |= {w for text in NEWS_BLANKS for w in text.replace("___", " ").split()}
    rare = sorted(w for w in words if counts[w] < 5)
    assert not rare, f"words seen fewer than 5 times in ptb.train: {rare}"
