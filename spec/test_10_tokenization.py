"""Module 10 -- Tokenization: the visible specification.

Run just this module:  pytest spec/test_10_tokenization.py     (or: kata test 10)

Expected vocabularies, merges and token counts come from `oracle_bpe` below: a plain-Python
byte-pair encoder written from the rule in BPETokenizer's docstring (collections.Counter over
adjacent pairs inside each text, most frequent first, ties to the smallest pair of strings,
stop when no pair occurs twice). It never calls the tokenizer under test.
"""
from collections import Counter
from functools import lru_cache

import pytest
from hypothesis import given, strategies as st

from tinytorch.core.tokenization import BPETokenizer, CharTokenizer, vocab_tradeoff

pytestmark = pytest.mark.module(10)

SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
CORPUS = [
    "the cat sat on the mat.",
    "the dog sat on the log.",
    "a cat and a dog met at the mat.",
    "then the cat ran to the dog and sat.",
]
ALPHABET = sorted(set("".join(CORPUS)))
BPE_SIZE = 34
TEXTS = st.text(alphabet=ALPHABET, max_size=40)
# Runs of one character: the merges learned here include ("a", "a"), ("b", "b") and ("aa", "a"),
# whose occurrences overlap inside runs like "aaaa"; a two-letter alphabet makes Hypothesis try
# runs of every length and every way two runs can meet.
RUNS_CORPUS = ["aaab", "aaab", "aaa", "bbb", "abbb"]
RUNS_SIZE = 14
RUN_TEXTS = st.text(alphabet="ab", max_size=30)


# ---------------------------------------------------------------- independent oracle
def merge_symbols(ids: list[int], left: int, right: int, new_id: int) -> list[int]:
    """Replace the pair (left, right) scanning left to right, occurrences never overlapping."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == left and ids[i + 1] == right:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def oracle_bpe(texts: list[str], vocab_size: int):
    """(vocab strings, merges as string pairs, merge id triples, encoded texts) by the documented rule."""
    vocab = SPECIALS + sorted(set("".join(texts)))
    sequences = [[vocab.index(c) for c in text] for text in texts]
    merges, rules = [], []
    while len(vocab) < vocab_size:
        counts = Counter(pair for seq in sequences for pair in zip(seq, seq[1:]))
        if not counts or max(counts.values()) < 2:
            break
        top = max(counts.values())
        left, right = min((p for p, c in counts.items() if c == top),
                          key=lambda p: (vocab[p[0]], vocab[p[1]], p[0], p[1]))
        new_id = len(vocab)
        vocab.append(vocab[left] + vocab[right])
        merges.append((vocab[left], vocab[right]))
        rules.append((left, right, new_id))
        sequences = [merge_symbols(seq, left, right, new_id) for seq in sequences]
    return vocab, merges, rules, sequences


def oracle_encode(vocab: list[str], rules, text: str) -> list[int]:
    ids = [vocab.index(c) if c in vocab[4:] else 1 for c in text]
    for left, right, new_id in rules:
        ids = merge_symbols(ids, left, right, new_id)
    return ids


@lru_cache(maxsize=None)
def expected_bpe(size: int = BPE_SIZE):
    return oracle_bpe(CORPUS, size)


@lru_cache(maxsize=None)
def expected_runs_bpe():
    return oracle_bpe(RUNS_CORPUS, RUNS_SIZE)


@lru_cache(maxsize=None)
def runs_tokenizer():
    return BPETokenizer(RUNS_SIZE).train(RUNS_CORPUS)


@lru_cache(maxsize=None)
def char_tokenizer():
    return CharTokenizer(CORPUS)


@lru_cache(maxsize=None)
def bpe_tokenizer(size: int = BPE_SIZE):
    return BPETokenizer(size).train(CORPUS)


def vocab_of(tokenizer) -> list[str]:
    return [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]


# ---------------------------------------------------------------- properties
@pytest.mark.points(2)
@given(text=TEXTS)
def test_char_round_trip_over_the_training_alphabet(text):
    tokenizer = char_tokenizer()
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.points(2)
@given(text=TEXTS)
def test_char_ids_are_sorted_character_positions_after_the_specials(text):
    expected = [4 + ALPHABET.index(c) for c in text]
    assert char_tokenizer().encode(text) == expected


@pytest.mark.points(3)
@given(text=TEXTS)
def test_bpe_round_trip_over_the_training_alphabet(text):
    tokenizer = bpe_tokenizer()
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.points(2)
@given(text=TEXTS)
def test_bpe_encoding_matches_merges_applied_in_learned_order(text):
    vocab, _, rules, _ = expected_bpe()
    assert bpe_tokenizer().encode(text) == oracle_encode(vocab, rules, text)


@pytest.mark.points(2)
@given(text=RUN_TEXTS)
def test_bpe_round_trip_through_runs_of_one_character(text):
    # the test's own premise, from the oracle: merges of a character with itself were learned
    assert {("a", "a"), ("aa", "a")} <= set(expected_runs_bpe()[1])
    tokenizer = runs_tokenizer()
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.points(2)
@given(text=RUN_TEXTS)
def test_bpe_merges_runs_left_to_right_without_overlap(text):
    # "aaa" with the merge ("a", "a") is [aa, a]: the scan goes left to right and a token that is
    # already part of a merged pair is not used again
    vocab, _, rules, _ = expected_runs_bpe()
    assert runs_tokenizer().encode(text) == oracle_encode(vocab, rules, text)


@pytest.mark.points(2)
@given(corpus=st.lists(st.text(alphabet="ab", min_size=1, max_size=12), min_size=1, max_size=4),
       extra=st.integers(0, 6), data=st.data())
def test_bpe_round_trip_after_training_on_any_two_letter_corpus(corpus, extra, data):
    alphabet = sorted(set("".join(corpus)))
    tokenizer = BPETokenizer(4 + len(alphabet) + extra).train(corpus)
    text = data.draw(st.text(alphabet=alphabet, max_size=30), label="text")
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.points(2)
@given(text=TEXTS)
def test_bpe_never_needs_more_tokens_than_characters(text):
    bpe, char = bpe_tokenizer().encode(text), char_tokenizer().encode(text)
    assert len(bpe) <= len(char) == len(text)


@given(text=st.text(alphabet=ALPHABET + ["#", "Z", "\u00e9"], max_size=30), specials=st.booleans())
def test_ids_are_python_ints_inside_the_vocabulary(text, specials):
    for tokenizer in (char_tokenizer(), bpe_tokenizer()):
        ids = tokenizer.encode(text, add_special_tokens=specials)
        assert all(type(i) is int for i in ids), f"ids must be Python ints, got {[type(i) for i in ids]}"
        assert all(0 <= i < tokenizer.vocab_size for i in ids)
        assert len(tokenizer) == tokenizer.vocab_size


@pytest.mark.points(2)
@given(text=TEXTS)
def test_special_tokens_wrap_the_ids(text):
    for tokenizer in (char_tokenizer(), bpe_tokenizer()):
        plain = tokenizer.encode(text)
        wrapped = tokenizer.encode(text, add_special_tokens=True)
        assert wrapped == [2] + plain + [3]
        assert tokenizer.decode(wrapped) == text
        assert tokenizer.decode(wrapped, skip_special_tokens=False) == "<bos>" + text + "<eos>"


@pytest.mark.points(2)
@given(corpus=st.lists(st.text(alphabet="abc ", min_size=2, max_size=12), min_size=1, max_size=4)
       .filter(lambda texts: max(Counter(p for t in texts for p in zip(t, t[1:])).values(), default=0) >= 2))
def test_first_merge_is_the_most_frequent_pair(corpus):
    counts = Counter(pair for text in corpus for pair in zip(text, text[1:]))
    top = max(counts.values())
    expected = min(pair for pair, count in counts.items() if count == top)
    tokenizer = BPETokenizer(4 + len(set("".join(corpus))) + 1).train(corpus)
    assert tokenizer.merges == [expected]


# ---------------------------------------------------------------- targeted examples
def test_char_vocabulary_is_specials_then_sorted_distinct_characters():
    tokenizer = char_tokenizer()
    assert vocab_of(tokenizer) == SPECIALS + ALPHABET
    assert tokenizer.vocab_size == len(tokenizer) == 4 + len(ALPHABET)
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (0, 1, 2, 3)
    assert [tokenizer.token_to_id(t) for t in SPECIALS + ALPHABET] == list(range(4 + len(ALPHABET)))


@pytest.mark.points(3)
def test_bpe_learns_the_documented_merges_and_vocabulary():
    vocab, merges, _, _ = expected_bpe()
    tokenizer = bpe_tokenizer()
    assert tokenizer.merges == merges
    assert vocab_of(tokenizer) == vocab
    assert tokenizer.vocab_size == 4 + len(ALPHABET) + len(merges) == BPE_SIZE


def test_bpe_training_is_deterministic():
    first, second = BPETokenizer(BPE_SIZE).train(CORPUS), BPETokenizer(BPE_SIZE).train(list(CORPUS))
    assert first.merges == second.merges
    assert vocab_of(first) == vocab_of(second)
    assert [first.encode(t) for t in CORPUS] == [second.encode(t) for t in CORPUS]


def test_larger_vocabulary_never_lengthens_the_training_corpus():
    sizes = [4 + len(ALPHABET) + extra for extra in (0, 1, 3, 8, 15, 30, 60)]
    totals = [sum(len(BPETokenizer(s).train(CORPUS).encode(t)) for t in CORPUS) for s in sizes]
    assert totals == sorted(totals, reverse=True), f"token totals per size {sizes}: {totals}"
    assert totals[0] == sum(len(t) for t in CORPUS) and totals[-1] < totals[0]


def test_bpe_stops_early_when_no_pair_repeats():
    tokenizer = BPETokenizer(100).train("abcd")
    assert tokenizer.merges == [] and tokenizer.vocab_size == 8
    assert tokenizer.encode("dcba") == [7, 6, 5, 4]


def test_unknown_characters_map_to_unk():
    for tokenizer in (char_tokenizer(), bpe_tokenizer()):
        ids = tokenizer.encode("cat#Z")
        assert ids[-2:] == [1, 1]
        assert tokenizer.decode(ids) == "cat"
        assert tokenizer.decode(ids, skip_special_tokens=False) == "cat<unk><unk>"


@pytest.mark.points(2)
def test_vocab_tradeoff_agrees_with_independent_counts():
    minimum = 4 + len(ALPHABET)
    sizes = [minimum, minimum + 10, minimum + 40]
    rows = vocab_tradeoff(CORPUS, sizes, width=16)
    assert len(rows) == len(sizes)
    characters = sum(len(t) for t in CORPUS)
    for size, row in zip(sizes, rows):
        vocab, _, _, sequences = oracle_bpe(CORPUS, size)
        tokens = sum(len(s) for s in sequences)
        assert row["vocab_size"] == len(vocab)
        assert row["tokens"] == tokens
        assert row["chars_per_token"] == pytest.approx(characters / tokens)
        assert row["embedding_parameters"] == len(vocab) * 16


# ---------------------------------------------------------------- errors
def test_encode_before_training_is_an_error():
    with pytest.raises(ValueError, match="train"):
        CharTokenizer().encode("abc")
    with pytest.raises(ValueError, match="train"):
        BPETokenizer(50).encode("abc")


@pytest.mark.parametrize("bad", [b"cat", 7, ["c", "a", "t"], None], ids=["bytes", "int", "list-of-chars", "None"])
def test_encode_rejects_text_that_is_not_a_string(bad):
    with pytest.raises(TypeError, match="str"):
        char_tokenizer().encode(bad)
    with pytest.raises(TypeError, match="str"):
        bpe_tokenizer().encode(bad)


def test_decode_out_of_vocabulary_id_names_the_id_and_the_range():
    for tokenizer in (char_tokenizer(), bpe_tokenizer()):
        size = tokenizer.vocab_size
        for bad in (size, -1, size + 100):
            with pytest.raises(ValueError) as caught:
                tokenizer.decode([4, bad, 5])
            message = str(caught.value)
            assert str(bad) in message and str(size - 1) in message, message


def test_bpe_vocab_size_below_specials_plus_alphabet_names_the_minimum():
    minimum = 4 + len(ALPHABET)
    with pytest.raises(ValueError) as caught:
        BPETokenizer(minimum - 1).train(CORPUS)
    assert str(minimum) in str(caught.value) and str(minimum - 1) in str(caught.value)
    assert BPETokenizer(minimum).train(CORPUS).merges == []
