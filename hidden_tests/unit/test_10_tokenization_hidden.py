"""Module 10 -- Tokenization: held-out properties and edge cases.

Expected merges and encodings come from the independent plain-Python oracle in
spec/test_10_tokenization.py (`oracle_bpe`, `oracle_encode`), never from the tokenizer under test.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spec.support import examples
from spec.test_10_tokenization import SPECIALS, oracle_bpe, oracle_encode
from tinytorch.core.tokenization import BPETokenizer, CharTokenizer, vocab_tradeoff

pytestmark = pytest.mark.module(10)

SMALL_CORPORA = st.lists(st.text(alphabet="abc d", min_size=1, max_size=16), min_size=1, max_size=4)


def vocab_of(tokenizer) -> list[str]:
    return [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]


# ---------------------------------------------------------------- properties
@pytest.mark.points(3)
@settings(max_examples=examples(30))
@given(corpus=SMALL_CORPORA, extra=st.integers(0, 12), probe=st.text(alphabet="abc dx", max_size=20))
def test_bpe_matches_the_oracle_on_random_corpora(corpus, extra, probe):
    size = 4 + len(set("".join(corpus))) + extra
    vocab, merges, rules, sequences = oracle_bpe(corpus, size)
    tokenizer = BPETokenizer(size).train(corpus)
    assert tokenizer.merges == merges
    assert vocab_of(tokenizer) == vocab
    assert [tokenizer.encode(text) for text in corpus] == sequences
    assert tokenizer.encode(probe) == oracle_encode(vocab, rules, probe)
    known = "".join(c for c in probe if c in vocab[4:])
    assert tokenizer.decode(tokenizer.encode(probe)) == known, "characters outside the corpus decode to nothing"


@pytest.mark.points(2)
@given(corpus=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10),
                       min_size=1, max_size=3),
       data=st.data())
def test_char_tokenizer_on_any_unicode_corpus(corpus, data):
    alphabet = sorted(set("".join(corpus)))
    tokenizer = CharTokenizer(corpus)
    assert vocab_of(tokenizer) == SPECIALS + alphabet
    text = data.draw(st.text(alphabet=alphabet, max_size=20))
    assert tokenizer.encode(text) == [4 + alphabet.index(c) for c in text]
    assert tokenizer.decode(tokenizer.encode(text)) == text


@given(corpus=SMALL_CORPORA, text=st.text(alphabet="abc d", max_size=20))
def test_bpe_at_the_minimum_size_is_the_char_tokenizer(corpus, text):
    minimum = 4 + len(set("".join(corpus)))
    bpe, char = BPETokenizer(minimum).train(corpus), CharTokenizer(corpus)
    assert bpe.merges == [] and vocab_of(bpe) == vocab_of(char)
    assert bpe.encode(text) == char.encode(text)


@given(corpus=SMALL_CORPORA)
def test_more_merges_never_lengthen_the_training_corpus(corpus):
    minimum = 4 + len(set("".join(corpus)))
    totals = [sum(len(BPETokenizer(minimum + extra).train(corpus).encode(t)) for t in corpus)
              for extra in range(0, 10, 3)]
    assert totals == sorted(totals, reverse=True), totals


# ---------------------------------------------------------------- targeted examples
def test_pairs_never_span_two_texts():
    # Joined into one string, ("a", "b") would tie with the real pairs and win the tie.
    tokenizer = BPETokenizer(20).train(["xa", "bx"] * 3)
    assert tokenizer.merges == [("b", "x"), ("x", "a")]


def test_ties_go_to_the_smallest_pair_of_strings():
    tokenizer = BPETokenizer(20).train(["ba", "ba", "ab", "ab"])
    assert tokenizer.merges == [("a", "b"), ("b", "a")]


def test_runs_of_one_character_merge_left_to_right_without_overlap():
    tokenizer = BPETokenizer(7).train("aaaaa aaa")
    assert tokenizer.merges == [("a", "a")]
    assert tokenizer.encode("aaaaa") == [6, 6, 5]
    assert tokenizer.encode("aaa") == [6, 5]


def test_encoding_applies_merges_in_learned_order_not_by_frequency_in_the_text():
    tokenizer = BPETokenizer(9).train(["bc", "bc", "bc", "ab", "ab"])
    assert tokenizer.merges == [("b", "c"), ("a", "b")]
    ids = tokenizer.encode("abc")
    assert [tokenizer.id_to_token(i) for i in ids] == ["a", "bc"]


def test_decode_accepts_integer_arrays_and_rejects_other_values():
    tokenizer = CharTokenizer("abc")
    assert tokenizer.decode(np.array([4, 5, 6], dtype=np.int32)) == "abc"
    assert tokenizer.decode(np.array([2, 4, 3], dtype=np.int64), skip_special_tokens=False) == "<bos>a<eos>"
    assert tokenizer.decode([]) == ""
    assert tokenizer.decode([0, 0, 4], skip_special_tokens=False) == "<pad><pad>a"
    with pytest.raises(TypeError):
        tokenizer.decode([4.0, 5.0])
    with pytest.raises(TypeError):
        tokenizer.decode([True, False])


def test_lookups_by_token_and_by_id():
    tokenizer = CharTokenizer("cab")
    assert [tokenizer.id_to_token(i) for i in range(7)] == SPECIALS + ["a", "b", "c"]
    assert tokenizer.token_to_id("c") == 6 and tokenizer.token_to_id("<eos>") == 3
    assert tokenizer.token_to_id("z") == 1
    with pytest.raises(ValueError) as caught:
        tokenizer.id_to_token(7)
    assert "7" in str(caught.value) and "6" in str(caught.value)


def test_training_again_replaces_the_vocabulary():
    tokenizer = CharTokenizer("abc")
    assert tokenizer.train("xy") is tokenizer
    assert vocab_of(tokenizer) == SPECIALS + ["x", "y"]
    assert tokenizer.encode("ax") == [1, 4]
    bpe = BPETokenizer(10).train("abab")
    bpe.train("cdcdcd")
    assert bpe.merges == [("c", "d"), ("cd", "cd")] and "a" not in vocab_of(bpe)


def test_corpus_forms_and_bad_corpora():
    texts = ["the cat", "the mat"]
    from_list = BPETokenizer(16).train(texts)
    from_generator = BPETokenizer(16).train(t for t in texts)
    assert from_list.merges == from_generator.merges
    with pytest.raises(TypeError):
        CharTokenizer(42)
    with pytest.raises(TypeError):
        BPETokenizer(16).train(["ok", 3])
    with pytest.raises(ValueError):
        CharTokenizer("")
    with pytest.raises(ValueError):
        BPETokenizer(16).train(["", ""])


@pytest.mark.parametrize("bad, error", [(4, ValueError), (0, ValueError), (True, TypeError), (12.5, TypeError)])
def test_bpe_rejects_bad_target_sizes(bad, error):
    with pytest.raises(error):
        BPETokenizer(bad)


def test_vocab_tradeoff_reports_every_size_in_order_with_the_stated_width():
    corpus = ["abab abab", "ba ba"]
    characters = sum(len(t) for t in corpus)
    rows = vocab_tradeoff(corpus, [9, 7, 100], width=3)
    assert [row["requested_vocab_size"] for row in rows] == [9, 7, 100]
    for row, size in zip(rows, [9, 7, 100]):
        vocab, merges, _, sequences = oracle_bpe(corpus, size)
        tokens = sum(len(s) for s in sequences)
        assert (row["vocab_size"], row["merges"], row["tokens"]) == (len(vocab), len(merges), tokens)
        assert row["characters"] == characters
        assert row["chars_per_token"] == pytest.approx(characters / tokens)
        assert row["embedding_parameters"] == 3 * len(vocab) and row["width"] == 3
    assert rows[2]["vocab_size"] < 100, "training stops when no pair repeats"
    with pytest.raises(ValueError):
        vocab_tradeoff(corpus, [6])
