"""Module 10 -- Tokenization: turning text into integer ids and back.

A model computes on numbers, so text is cut into tokens and each token gets an integer id from
a vocabulary. Every tokenizer here reserves four special tokens with fixed ids:

    id 0 "<pad>"  fills short sequences up to a common length in a batch
    id 1 "<unk>"  stands for anything the vocabulary cannot spell
    id 2 "<bos>"  marks the beginning of a sequence
    id 3 "<eos>"  marks the end of a sequence

CharTokenizer gives every distinct character its own id. BPETokenizer (byte-pair encoding)
starts from the same characters and repeatedly merges the most frequent adjacent pair of tokens
into a new token, until the vocabulary reaches a target size.

Systems lesson: vocabulary size trades against sequence length. A larger vocabulary packs more
characters into each token, so the same text becomes fewer ids (less work for every later step
that runs once per position), but every vocabulary entry is one more row of a per-token lookup
table whose parameters grow as vocab_size * width. `vocab_tradeoff` measures both sides on a
corpus.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def _as_texts(corpus, owner: str) -> list[str]:
    """A corpus given as one string or an iterable of strings, as a list of strings."""
    if isinstance(corpus, str):
        texts = [corpus]
    elif isinstance(corpus, (bytes, bytearray)) or not isinstance(corpus, Iterable):
        raise TypeError(f"{owner} expects a corpus that is a str or an iterable of str, got {type(corpus).__name__}")
    else:
        texts = list(corpus)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{owner} expects every corpus item to be a str, item {position} is {type(text).__name__}")
    if not any(texts):
        raise ValueError(f"{owner} needs a corpus with at least one character, got an empty corpus")
    return texts


class Tokenizer:
    """Base class: a vocabulary (list of token strings, index = id) that starts with the special tokens.

    Subclasses learn the rest of the vocabulary in `train` and cut text into ids in `_encode_text`;
    this class adds the special tokens around them, checks inputs, and turns ids back into text.

    Attributes:
        vocab (list[str]): token string of every id; vocab[0:4] == list(SPECIAL_TOKENS).
        trained (bool): False until `train` has run.

    Example:
        >>> Tokenizer().vocab_size
        4
    """

    def __init__(self):
        ### BEGIN SOLUTION
        self.vocab: list[str] = list(SPECIAL_TOKENS)
        self._ids: dict[str, int] = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
        self.trained = False
        ### END SOLUTION

    def _set_vocab(self, tokens: list[str]) -> None:
        """Replace the learned part of the vocabulary: ids 4, 5, ... go to `tokens` in order.

        When two ids spell the same string, the lookup table keeps the smaller id.
        """
        ### BEGIN SOLUTION
        self.vocab = list(SPECIAL_TOKENS) + list(tokens)
        self._ids = {}
        for index, token in enumerate(self.vocab):
            self._ids.setdefault(token, index)
        ### END SOLUTION

    @property
    def vocab_size(self) -> int:
        """int: number of ids, special tokens included (valid ids are 0 .. vocab_size - 1)."""
        ### BEGIN SOLUTION
        return len(self.vocab)
        ### END SOLUTION

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def pad_id(self) -> int:
        """int: id of "<pad>" (always 0)."""
        return PAD_ID

    @property
    def unk_id(self) -> int:
        """int: id of "<unk>" (always 1)."""
        return UNK_ID

    @property
    def bos_id(self) -> int:
        """int: id of "<bos>" (always 2)."""
        return BOS_ID

    @property
    def eos_id(self) -> int:
        """int: id of "<eos>" (always 3)."""
        return EOS_ID

    def token_to_id(self, token: str) -> int:
        """Look up the id of one token string.

        Args:
            token (str): a token string, e.g. "a" or "<eos>".

        Returns:
            int: its id; unk_id when the vocabulary does not contain it (the smallest id when two
            ids spell the same string).

        Raises:
            TypeError: token is not a str.

        Example:
            >>> CharTokenizer("ba").token_to_id("b")
            5
        """
        ### BEGIN SOLUTION
        if not isinstance(token, str):
            raise TypeError(f"token_to_id expects a str, got {type(token).__name__}")
        return self._ids.get(token, UNK_ID)
        ### END SOLUTION

    def id_to_token(self, token_id: int) -> str:
        """Look up the token string of one id.

        Args:
            token_id (int): an id in [0, vocab_size).

        Returns:
            str: the token string (special tokens give their names, e.g. "<unk>").

        Raises:
            TypeError: token_id is not an integer.
            ValueError: token_id is outside [0, vocab_size); the message names the id and the range.

        Example:
            >>> CharTokenizer("ba").id_to_token(4)
            'a'
        """
        ### BEGIN SOLUTION
        if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)):
            raise TypeError(f"id_to_token expects an integer id, got {type(token_id).__name__}")
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"id {int(token_id)} is outside the vocabulary: valid ids are 0..{self.vocab_size - 1} "
                             f"(vocab_size {self.vocab_size})")
        return self.vocab[int(token_id)]
        ### END SOLUTION

    def _encode_text(self, text: str) -> list[int]:
        """Cut `text` into ids (no special tokens added); each subclass defines this.

        Args:
            text (str): the text, already checked to be a str; the tokenizer is trained.

        Returns:
            list[int]: ids in [0, vocab_size); characters outside the vocabulary become unk_id.
        """
        raise NotImplementedError(f"{type(self).__name__} must define _encode_text")

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Turn text into token ids.

        Args:
            text (str): the text to encode (may be empty).
            add_special_tokens (bool): wrap the ids as [bos_id, ..., eos_id].

        Returns:
            list[int]: Python ints in [0, vocab_size).

        Raises:
            TypeError: text is not a str.
            ValueError: the tokenizer has not been trained yet.

        Example:
            >>> CharTokenizer("ab").encode("ba", add_special_tokens=True)
            [2, 5, 4, 3]
        """
        ### BEGIN SOLUTION
        if not isinstance(text, str):
            raise TypeError(f"encode expects text as a str, got {type(text).__name__}")
        if not self.trained:
            raise ValueError(f"{type(self).__name__} is not trained yet: call train(corpus) before encode")
        ids = self._encode_text(text)
        return [BOS_ID, *ids, EOS_ID] if add_special_tokens else ids
        ### END SOLUTION

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Turn token ids back into text by concatenating their token strings.

        Args:
            ids (list[int] | np.ndarray, int, shape (n,)): token ids.
            skip_special_tokens (bool): drop ids 0-3 (pad, unk, bos, eos); when False they appear
                as their names, e.g. "<unk>".

        Returns:
            str: the text.

        Raises:
            TypeError: ids are not integers (floats and bools are rejected) or not one-dimensional.
            ValueError: an id is outside [0, vocab_size); the message names the id and the range.

        Example:
            >>> CharTokenizer("ab").decode([2, 5, 1, 4, 3], skip_special_tokens=False)
            '<bos>b<unk>a<eos>'
        """
        ### BEGIN SOLUTION
        array = np.asarray(ids)
        if array.size == 0:
            return ""
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise TypeError(f"decode expects a 1-D sequence of integer ids, got dtype {array.dtype} "
                            f"with shape {array.shape}")
        outside = (array < 0) | (array >= self.vocab_size)
        if outside.any():
            bad = int(array[np.argmax(outside)])
            raise ValueError(f"id {bad} is outside the vocabulary: valid ids are 0..{self.vocab_size - 1} "
                             f"(vocab_size {self.vocab_size})")
        if skip_special_tokens:
            array = array[array >= len(SPECIAL_TOKENS)]
        vocab = self.vocab
        return "".join([vocab[i] for i in array.tolist()])
        ### END SOLUTION


class CharTokenizer(Tokenizer):
    """One token per character: ids 0-3 are the special tokens, then the distinct characters of
    the training corpus in sorted (code point) order.

    Characters never seen in training encode to unk_id; decoding them gives "" (the default,
    skip_special_tokens=True) or the literal "<unk>" (skip_special_tokens=False).

    Args:
        corpus (str | Iterable[str] | None): when given, train on it immediately.

    Raises:
        TypeError: corpus is not a str or an iterable of str.
        ValueError: corpus has no characters at all.

    Example:
        >>> tok = CharTokenizer("hello")
        >>> tok.vocab[4:], tok.encode("hole")
        (['e', 'h', 'l', 'o'], [5, 7, 6, 4])
    """

    def __init__(self, corpus: str | Iterable[str] | None = None):
        ### BEGIN SOLUTION
        super().__init__()
        if corpus is not None:
            self.train(corpus)
        ### END SOLUTION

    def train(self, corpus: str | Iterable[str]) -> CharTokenizer:
        """Build the vocabulary from the distinct characters of a corpus (replacing any earlier one).

        Args:
            corpus (str | Iterable[str]): one text or several texts.

        Returns:
            CharTokenizer: self, trained.

        Raises:
            TypeError: corpus is not a str or an iterable of str.
            ValueError: corpus has no characters at all.

        Example:
            >>> CharTokenizer().train(["ba", "c"]).vocab_size
            7
        """
        ### BEGIN SOLUTION
        texts = _as_texts(corpus, "CharTokenizer.train")
        self._set_vocab(sorted(set().union(*texts)))
        self.trained = True
        return self
        ### END SOLUTION

    def _encode_text(self, text: str) -> list[int]:
        """One id per character; characters outside the vocabulary become unk_id.

        Args:
            text (str): the text.

        Returns:
            list[int]: len(text) ids.
        """
        ### BEGIN SOLUTION
        lookup = self._ids
        return [lookup.get(character, UNK_ID) for character in text]
        ### END SOLUTION


def _merge_pair(ids: np.ndarray, left: int, right: int, new_id: int) -> np.ndarray:
    """Replace every occurrence of the adjacent pair (left, right) by new_id, scanning left to right.

    Occurrences never overlap: in a run like (a, a, a) with left == right == a, only the first
    two merge, giving (aa, a).

    Args:
        ids (np.ndarray, int64, shape (n,)): token ids (negative values separate texts and never match).
        left (int): id of the pair's first token.
        right (int): id of the pair's second token.
        new_id (int): id of the merged token.

    Returns:
        np.ndarray: int64, shape (n - occurrences,); `ids` itself is not modified.
    """
    ### BEGIN SOLUTION
    if ids.size < 2:
        return ids
    starts = np.flatnonzero((ids[:-1] == left) & (ids[1:] == right))
    if starts.size == 0:
        return ids
    if left == right:
        # A start right after a kept start would reuse its second token: keep every other one of a run.
        kept, previous = [], -2
        for start in starts.tolist():
            if start != previous + 1:
                kept.append(start)
                previous = start
        starts = np.array(kept, dtype=np.int64)
    merged = ids.copy()
    merged[starts] = new_id
    return np.delete(merged, starts + 1)
    ### END SOLUTION


class BPETokenizer(Tokenizer):
    """Byte-pair encoding: characters first, then learned merges of frequent adjacent token pairs.

    Training, on a corpus of one or more texts:
      1. the base alphabet is the corpus's distinct characters, sorted, with ids 4, 5, ...
         right after the special tokens (exactly like CharTokenizer);
      2. count every adjacent pair of tokens inside each text (pairs never span two texts;
         overlapping pairs count, so "aaa" holds the pair (a, a) twice);
      3. merge the most frequent pair into a new token with the next id; ties go to the
         lexicographically smallest pair of token strings (compare left strings, then right;
         pairs spelling identical strings fall back to the smaller ids);
      4. repeat until vocab_size ids exist, or stop early when no pair occurs at least twice
         (merging a pair seen once would add an id without shortening anything else).
    Every merge adds exactly one id, so vocab_size == 4 + len(alphabet) + len(merges); two
    merges may spell the same string, e.g. ("ab", "c") and ("a", "bc").

    Encoding cuts text into characters (unknown ones become unk_id, which never merges) and then
    applies the merges in the order they were learned; decoding concatenates token strings.

    Args:
        vocab_size (int): target number of ids, special tokens included, > 4. Training raises
            ValueError when it is smaller than 4 + the number of distinct corpus characters.

    Attributes:
        merges (list[tuple[str, str]]): learned pairs of token strings, in learning order.
        target_vocab_size (int): the requested vocab_size.

    Raises:
        TypeError: vocab_size is not an integer.
        ValueError: vocab_size <= 4.

    Example:
        >>> tok = BPETokenizer(vocab_size=8).train("abab ab")
        >>> tok.merges, tok.encode("abab")
        ([('a', 'b')], [7, 7])
    """

    def __init__(self, vocab_size: int):
        ### BEGIN SOLUTION
        super().__init__()
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
            raise TypeError(f"BPETokenizer vocab_size must be an integer, got {type(vocab_size).__name__}")
        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"BPETokenizer vocab_size must be more than the {len(SPECIAL_TOKENS)} special tokens, "
                             f"got {vocab_size}")
        self.target_vocab_size = int(vocab_size)
        self.merges: list[tuple[str, str]] = []
        self._merge_ids: list[tuple[int, int, int]] = []
        ### END SOLUTION

    def train(self, corpus: str | Iterable[str]) -> BPETokenizer:
        """Learn the alphabet and the merges from a corpus (replacing anything learned before).

        Args:
            corpus (str | Iterable[str]): one text or several texts; pairs are counted inside each text.

        Returns:
            BPETokenizer: self, trained; vocab_size may stay below the target when merges run out.

        Raises:
            TypeError: corpus is not a str or an iterable of str.
            ValueError: corpus has no characters, or the target vocab_size is smaller than
                4 + the number of distinct characters (the message states that minimum).

        Example:
            >>> BPETokenizer(vocab_size=10).train("aaab").merges
            [('a', 'a')]
        """
        ### BEGIN SOLUTION
        texts = _as_texts(corpus, "BPETokenizer.train")
        alphabet = sorted(set().union(*texts))
        minimum = len(SPECIAL_TOKENS) + len(alphabet)
        if self.target_vocab_size < minimum:
            raise ValueError(
                f"BPETokenizer vocab_size {self.target_vocab_size} is too small for this corpus: need at least "
                f"{minimum} ({len(SPECIAL_TOKENS)} special tokens + {len(alphabet)} distinct characters)")
        tokens = list(alphabet)
        self._set_vocab(tokens)
        self.merges, self._merge_ids = [], []
        # All texts in one int64 array, separated by -1 so that no pair spans two texts.
        pieces = []
        for text in texts:
            pieces.extend(self._ids[character] for character in text)
            pieces.append(-1)
        ids = np.array(pieces, dtype=np.int64)
        base = self.target_vocab_size
        while len(SPECIAL_TOKENS) + len(tokens) < self.target_vocab_size:
            left, right = ids[:-1], ids[1:]
            valid = (left >= 0) & (right >= 0)
            codes, counts = np.unique(left[valid] * base + right[valid], return_counts=True)
            if counts.size == 0 or counts.max() < 2:
                break
            best = codes[counts == counts.max()]
            vocab = list(SPECIAL_TOKENS) + tokens
            pair_ids = min(((int(c) // base, int(c) % base) for c in best), key=lambda p: (vocab[p[0]], vocab[p[1]]))
            new_id = len(vocab)
            ids = _merge_pair(ids, pair_ids[0], pair_ids[1], new_id)
            tokens.append(vocab[pair_ids[0]] + vocab[pair_ids[1]])
            self.merges.append((vocab[pair_ids[0]], vocab[pair_ids[1]]))
            self._merge_ids.append((pair_ids[0], pair_ids[1], new_id))
        self._set_vocab(tokens)
        self.trained = True
        return self
        ### END SOLUTION

    def _encode_text(self, text: str) -> list[int]:
        """Characters to ids, then every learned merge in learning order (O(merges x len(text))).

        Args:
            text (str): the text.

        Returns:
            list[int]: ids; never more than len(text).
        """
        ### BEGIN SOLUTION
        lookup = self._ids
        ids = np.array([lookup.get(character, UNK_ID) for character in text], dtype=np.int64)
        present = set(ids.tolist())
        for left, right, new_id in self._merge_ids:
            if ids.size < 2:
                break
            # A set lookup is far cheaper than scanning the array for a pair that cannot occur.
            if left in present and right in present:
                merged = _merge_pair(ids, left, right, new_id)
                if merged.size != ids.size:
                    ids, present = merged, set(merged.tolist())
        return ids.tolist()
        ### END SOLUTION


def vocab_tradeoff(corpus: str | Iterable[str], vocab_sizes: Iterable[int], width: int = 64) -> list[dict]:
    """Measure the vocabulary size vs sequence length trade-off of BPE on a corpus.

    For each requested size, train a BPETokenizer on the corpus and encode every text of it
    (without special tokens).

    Args:
        corpus (str | Iterable[str]): one text or several texts, used to train and to measure.
        vocab_sizes (Iterable[int]): target vocabulary sizes to try, each at least
            4 + the number of distinct corpus characters.
        width (int): numbers stored per vocabulary entry by a later per-token lookup table, > 0.

    Returns:
        list[dict]: one dict per requested size, in the given order, with keys
            "requested_vocab_size" (int): the size asked for;
            "vocab_size" (int): ids actually learned (smaller when merges ran out);
            "merges" (int): number of learned merges;
            "characters" (int): characters in the corpus;
            "tokens" (int): ids the whole corpus encodes to;
            "chars_per_token" (float): characters / tokens;
            "width" (int): the given width;
            "embedding_parameters" (int): vocab_size * width, the parameters of a lookup table with
                one row of `width` numbers per id.

    Raises:
        TypeError: corpus is not a str or an iterable of str.
        ValueError: width <= 0, or a size is too small for the corpus.

    Example:
        >>> [row["tokens"] for row in vocab_tradeoff("abab", [6, 7])]
        [4, 2]
    """
    ### BEGIN SOLUTION
    texts = _as_texts(corpus, "vocab_tradeoff")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width <= 0:
        raise ValueError(f"vocab_tradeoff width must be a positive integer, got {width!r}")
    characters = sum(len(text) for text in texts)
    rows = []
    for requested in vocab_sizes:
        tokenizer = BPETokenizer(requested).train(texts)
        tokens = sum(len(tokenizer.encode(text)) for text in texts)
        rows.append({
            "requested_vocab_size": int(requested),
            "vocab_size": tokenizer.vocab_size,
            "merges": len(tokenizer.merges),
            "characters": characters,
            "tokens": tokens,
            "chars_per_token": characters / tokens,
            "width": int(width),
            "embedding_parameters": tokenizer.vocab_size * int(width),
        })
    return rows
    ### END SOLUTION
