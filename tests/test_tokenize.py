import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textrnn import CharTokenizer, SentencePieceTokenizer, WordTokenizer
from textrnn.errors import PipelineError
from textrnn.tokenize import tokenizer_from_config

unicode_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
korean = st.text(alphabet=list("나는오늘짝꿍과밥을먹었다공부책 .,?!e") + ["\u1100", "\u1161", "😀", "\u0301", "\x07"], max_size=40)


def test_word_tokenizer_handles_latin_digits_punctuation_and_hangul():
    tokens = WordTokenizer().tokenize("Teddy Roosevelt visited Paris in 1905, didn't he? 나는 밥을 먹었다. 3.5%")
    assert tokens == ["Teddy", "Roosevelt", "visited", "Paris", "in", "1905", ",", "didn't", "he", "?",
                      "나는", "밥을", "먹었다", ".", "3.5", "%"]


def test_word_tokenizer_lower_and_spans():
    tokenizer = WordTokenizer(lower=True)
    assert tokenizer.tokenize("The CAT") == ["the", "cat"]
    assert WordTokenizer().spans("Hi, Bob") == [("Hi", 0, 2), (",", 2, 3), ("Bob", 4, 7)]
    assert tokenizer.spans("The CAT") == [("The", 0, 3), ("CAT", 4, 7)]   # as written, beside their offsets


def test_a_corpus_unk_marker_is_one_token_that_the_vocabulary_maps_to_unk():
    from textrnn.vocab import UNK_ID, Vocab

    tokens = WordTokenizer().tokenize("the <unk> company said N <b>")
    assert tokens == ["the", "<unk>", "company", "said", "N", "<", "b", ">"]
    vocab = Vocab.build([tokens])
    assert "<unk>" not in vocab.itos[4:] and vocab.encode(tokens)[1] == UNK_ID


def test_word_detokenize_reads_naturally():
    tokenizer = WordTokenizer()
    assert tokenizer.detokenize(tokenizer.tokenize("Hello, (world)! It's 3.5% off.")) == "Hello, (world)! It's 3.5% off."


def test_nfc_joins_decomposed_accents():
    assert WordTokenizer().tokenize("cafe\u0301") == ["café"]


@given(unicode_text)
def test_word_roundtrip_is_stable(text):
    tokenizer = WordTokenizer()
    tokens = tokenizer.tokenize(text)
    assert tokenizer.tokenize(tokenizer.detokenize(tokens)) == tokens
    assert all(t.strip() == t and t for t in tokens)


# the characters where the shortcut could go wrong: apostrophes, decimal marks, "<unk>", a combining accent, white
# space that is not " " (no-break, line separator, \x1c, tab), Hangul, Arabic-Indic and fraction digits, an emoji
_TRICKY = list("ab9_.,'’<>unk ") + ["\u0301", "\u00a0", "\u2028", "\x1c", "\t", "나", "٣", "½", "😀"]
words_and_marks = st.text(alphabet=st.sampled_from(_TRICKY), max_size=40)


@settings(max_examples=300)
@given(st.one_of(unicode_text, words_and_marks))
def test_the_word_splitting_shortcut_gives_what_the_pattern_gives(text):
    from textrnn.tokenize import _WORD_RE, _words

    assert _words(text) == _WORD_RE.findall(text)


def test_the_shortcut_rests_on_two_facts_true_of_every_character():
    """str.split and the pattern's \\S agree on white space, and every character str.isalnum accepts is a \\w."""
    import re
    import sys

    space, word = re.compile(r"\s"), re.compile(r"\w")
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        assert c.isspace() == bool(space.match(c)), hex(code)
        assert not c.isalnum() or word.match(c), hex(code)


@given(korean)
def test_word_roundtrip_korean(text):
    tokenizer = WordTokenizer(lower=True)
    tokens = tokenizer.tokenize(text)
    assert tokenizer.tokenize(tokenizer.detokenize(tokens)) == tokens


@given(unicode_text)
def test_char_roundtrip_is_exact(text):
    tokenizer = CharTokenizer()
    assert tokenizer.detokenize(tokenizer.tokenize(text)) == text


@pytest.fixture(scope="module")
def spm():
    lines = ["the apple and pear salad was fresh", "나는 오늘 짝꿍과 밥을 먹었다", "공부하려고 책을 샀다",
             "we ate a pear and an apple today", "그래서 나는 집에 갔다"] * 40
    return SentencePieceTokenizer.train(lines, vocab_size=400, model_type="unigram")


def test_sentencepiece_uses_textrnn_ids(spm):
    assert spm.vocab().itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]


@settings(max_examples=50, deadline=None)
@given(korean)
def test_sentencepiece_roundtrip(spm, text):
    # sentencepiece normalises whitespace runs (NFKC + collapsing), so compare with that form
    assert spm.detokenize(spm.tokenize(text)) == spm.processor.decode(spm.processor.encode(text))


def test_sentencepiece_bytes_cover_unseen_characters(spm):
    assert spm.detokenize(spm.tokenize("zq 😀")) == "zq 😀"


def test_a_lower_casing_sentencepiece_lower_cases_every_text_it_encodes(tmp_path):
    lines = ["the apple and pear salad was fresh", "we ate a pear and an apple today"] * 40
    lower = SentencePieceTokenizer.train([line.title() for line in lines], vocab_size=300, lower=True)
    assert lower.tokenize("The Apple") == lower.tokenize("the apple")
    assert not any(piece.startswith("<0x") for piece in lower.tokenize("The Apple"))   # no byte pieces for capitals
    lower.save_model(tmp_path / "spm.model")
    again = tokenizer_from_config(lower.config(), tmp_path / "spm.model")
    assert again.lower and again.tokenize("PEAR") == lower.tokenize("pear")


def test_configs_save_and_load(tmp_path, spm):
    for tokenizer in (CharTokenizer(lower=True), WordTokenizer()):
        again = tokenizer_from_config(tokenizer.config())
        assert again.config() == tokenizer.config()
    spm.save_model(tmp_path / "spm.model")
    again = tokenizer_from_config(spm.config(), tmp_path / "spm.model")
    assert again.tokenize("나는 밥을 먹었다") == spm.tokenize("나는 밥을 먹었다")


def test_a_file_that_is_not_a_sentencepiece_model_is_refused(tmp_path):
    (tmp_path / "spm.model").write_bytes(b"this is not a model")
    with pytest.raises(PipelineError, match="sentencepiece"):
        tokenizer_from_config({"kind": "sentencepiece"}, tmp_path / "spm.model")


def test_bpe_trains_too():
    tokenizer = SentencePieceTokenizer.train(["low lower lowest newer wider"] * 30, vocab_size=300, model_type="bpe")
    assert tokenizer.detokenize(tokenizer.tokenize("lowest newer")) == "lowest newer"
