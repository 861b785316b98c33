"""Read and check TinyTalks files.

The format (one grammar for the master file and the three splits) is strict so that a character-level
model sees exactly one spelling of every turn boundary:

  * UTF-8, lines end in a single "\\n" (no "\\r"), the file ends in exactly one "\\n";
  * paragraphs are separated by exactly one blank line; no blank line first or last;
  * no line ends in whitespace;
  * a paragraph of only "#" lines is a comment (the split files' "GENERATED" header);
  * a block is a paragraph of optional leading "#" lines, then "Q: " and "A: " lines alternating,
    starting with "Q: " and ending with "A: ", each with non-empty text after the prefix.

In the master file every block's single leading "#" line is "# category: <name>"; the splits carry no
category lines. `validate(directory)` checks the three splits (and, when it is there, the master file
they were made from) and returns every problem it finds; `read_blocks(path)` is the loader's reader
and raises on the first problem.

    python -m datasets.tinytalks.validate [DIRECTORY]     # prints problems, exits 1 if any
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from datasets.errors import DatasetError

HERE = Path(__file__).resolve().parent
MASTER = "tinytalks.txt"
SPLIT_FILES = ("train.txt", "validation.txt", "test.txt")
CATEGORY_LINE = re.compile(r"# category: ([a-z][a-z_]*)")

Turns = list[tuple[str, str]]


@dataclass(frozen=True)
class Block:
    """One parsed block: where it starts (1-based line), its leading comment lines and its turns."""

    line: int
    comments: tuple[str, ...]
    turns: tuple[tuple[str, str], ...]


# ---------------------------------------------------------------- reading
def decode(data: bytes, path: Path) -> tuple[str | None, str | None]:
    """(text, None) for UTF-8 bytes, else (None, problem) naming the file, line and offending byte."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, (f"{path}:{line}: not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} "
                      f"({error.reason})")


def _line_problems(lines: list[str], path: Path) -> list[str]:
    """Whitespace problems of single lines: carriage returns, trailing whitespace, doubled blank lines."""
    problems = []
    for number, line in enumerate(lines, start=1):
        if "\r" in line:
            problems.append(f"{path}:{number}: carriage return; expected lines ending in a bare newline")
        elif line != line.rstrip():
            problems.append(f"{path}:{number}: trailing whitespace in {line!r}")
        if not line and number > 1 and not lines[number - 2]:
            problems.append(f"{path}:{number}: two blank lines in a row; expected exactly one between blocks")
    if lines and not lines[0]:
        problems.append(f"{path}:1: the file starts with a blank line")
    return problems


def _end_problems(text: str, path: Path) -> list[str]:
    """The file must end in exactly one newline (and must not be empty)."""
    if not text:
        return [f"{path}: empty file; expected Q/A blocks"]
    if not text.endswith("\n"):
        return [f"{path}: the last line has no newline at its end"]
    if text.endswith("\n\n"):
        return [f"{path}: blank line(s) at the end of the file"]
    return []


def _paragraphs(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each run of non-blank lines."""
    paragraphs, start = [], None
    for number, line in enumerate(lines + [""], start=1):
        if line.strip() and start is None:
            start = number
        elif not line.strip() and start is not None:
            paragraphs.append((start, lines[start - 1:number - 1]))
            start = None
    return paragraphs


def _turn_text(line: str, prefix: str, number: int, path: Path) -> tuple[str | None, str | None]:
    """(text, None) when `line` is `prefix` plus non-empty text, else (None, problem)."""
    if not line.startswith(prefix):
        return None, f"{path}:{number}: expected a line starting with {prefix!r}, got {line!r}"
    text = line[len(prefix):]
    if not text.strip():
        return None, f"{path}:{number}: {prefix.strip()} line has no text"
    if text != text.strip():
        return None, f"{path}:{number}: extra whitespace after {prefix.strip()!r} in {line!r}"
    return text, None


def _block(start: int, lines: list[str], path: Path) -> tuple[Block | None, str | None]:
    """Parse one paragraph: (Block, None), (None, None) for a comment paragraph, or (None, problem)."""
    leading = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    comments, body = lines[:leading], lines[leading:]
    if not body:
        return None, None
    questions, answers = [], []
    for offset, line in enumerate(body):
        number = start + len(comments) + offset
        prefix, into = ("Q: ", questions) if offset % 2 == 0 else ("A: ", answers)
        text, problem = _turn_text(line, prefix, number, path)
        if problem:
            return None, problem
        into.append(text)
    if len(answers) < len(questions):
        return None, f"{path}:{start + len(lines) - 1}: the block ends with a question; expected an 'A: ' line next"
    return Block(start, tuple(comments), tuple(zip(questions, answers))), None


def parse(text: str, path: Path) -> tuple[list[Block], list[str]]:
    """(blocks, problems) of a decoded file; a malformed paragraph is reported and left out."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    problems = _end_problems(text, path) + _line_problems(lines, path)
    blocks = []
    for start, paragraph in _paragraphs(lines):
        block, problem = _block(start, paragraph, path)
        if problem:
            problems.append(problem)
        elif block:
            blocks.append(block)
    return blocks, sorted(problems, key=_line_number)


def _line_number(problem: str) -> int:
    """Sort key: the line number a 'path:line: ...' problem names (0 for whole-file problems)."""
    match = re.search(r":(\d+): ", problem)
    return int(match.group(1)) if match else 0


def load(path: Path) -> tuple[list[Block], list[str]]:
    """(blocks, problems) of a file on disk; a missing or non-UTF-8 file is a problem, not an exception."""
    path = Path(path)
    if not path.is_file():
        return [], [f"{path}: missing file"]
    text, problem = decode(path.read_bytes(), path)
    if problem:
        return [], [problem]
    return parse(text, path)


def read_parsed(path) -> list[Block]:
    """The blocks of a file, or DatasetError with the first problem (file and line in its message)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: TinyTalks file not found")
    blocks, problems = load(path)
    if problems:
        raise DatasetError(problems[0])
    return blocks


def read_blocks(path) -> list[Turns]:
    """Each block of a TinyTalks file as a list of (question, answer) turns; comment lines are skipped.

    Raises FileNotFoundError for a missing file and DatasetError (naming the file and line) for bytes
    that are not UTF-8 or text that breaks the format above.
    """
    return [list(block.turns) for block in read_parsed(path)]


def category_of(block: Block, path: Path) -> str:
    """The name in a master block's one "# category: <name>" line, else DatasetError naming the line."""
    match = CATEGORY_LINE.fullmatch(block.comments[0]) if len(block.comments) == 1 else None
    if not match:
        raise DatasetError(f"{path}:{block.line}: expected exactly one '# category: <name>' line before the "
                           f"block (name in lower case), got {list(block.comments)!r}")
    return match.group(1)


def read_categorized(path) -> list[tuple[str, Turns]]:
    """(category, turns) of every block of the master file, in file order."""
    path = Path(path)
    return [(category_of(block, path), list(block.turns)) for block in read_parsed(path)]


# ---------------------------------------------------------------- checking
def question_key(question: str) -> str:
    """How questions are compared for duplicates: case-folded, runs of whitespace collapsed."""
    return " ".join(question.casefold().split())


def _where(path: Path, block: Block, turn: int) -> str:
    """'file:line' of the question of turn `turn` of a block."""
    return f"{path}:{block.line + len(block.comments) + 2 * turn}"


def overlap_problems(files: dict[Path, list[Block]]) -> list[str]:
    """Identical blocks (every turn equal) found in two different files."""
    first_seen, problems = {}, []
    for path, blocks in files.items():
        for block in blocks:
            earlier = first_seen.setdefault(block.turns, (path, block))
            if earlier[0] != path:
                problems.append(f"overlap between splits: the block at {_where(path, block, 0)} also appears "
                                f"at {_where(*earlier, 0)}")
    return problems


def duplicate_problems(files: dict[Path, list[Block]]) -> list[str]:
    """Questions asked more than once, in one file or across files, except inside identical blocks
    (those are reported once, as overlaps, by overlap_problems)."""
    seen, problems = {}, []
    for path, blocks in files.items():
        for block in blocks:
            for turn, (question, _) in enumerate(block.turns):
                earlier = seen.setdefault(question_key(question), (path, block, turn))
                first = earlier[1] is block and earlier[2] == turn
                if first or (earlier[0] != path and earlier[1].turns == block.turns):
                    continue
                problems.append(f"duplicate question {question!r} at {_where(path, block, turn)}, "
                                f"already asked at {_where(*earlier)}")
    return problems


def master_problems(master: Path, splits: dict[Path, list[Block]]) -> list[str]:
    """The master file's own problems, and blocks that are in the master but no split or vice versa."""
    blocks, problems = load(master)
    for block in blocks:
        try:
            category_of(block, master)
        except DatasetError as error:
            problems.append(str(error))
    problems += duplicate_problems({master: blocks})
    in_master = {block.turns for block in blocks}
    in_splits = {block.turns for split in splits.values() for block in split}
    problems += [f"{_where(master, b, 0)}: this block is in no split file (run make_splits)"
                 for b in blocks if b.turns not in in_splits]
    problems += [f"{_where(path, b, 0)}: this block is not in {master.name} (edit the master, then run make_splits)"
                 for path, split in splits.items() for b in split if b.turns not in in_master]
    return problems


def validate(directory) -> list[str]:
    """Every problem of the TinyTalks files in `directory` (empty when valid).

    Checks each split file's encoding and format (and that it has blocks), questions asked twice within
    or across splits, blocks shared between splits, and, when the master file is present, its format,
    category lines and that the splits hold exactly its blocks. Every message names the file.
    """
    directory = Path(directory)
    splits, problems = {}, []
    for name in SPLIT_FILES:
        path = directory / name
        blocks, found = load(path)
        if not found and not blocks:
            found = [f"{path}: no Q/A blocks"]
        splits[path], problems = blocks, problems + found
    problems += overlap_problems(splits) + duplicate_problems(splits)
    if (directory / MASTER).is_file():
        problems += master_problems(directory / MASTER, splits)
    return problems


def main(argv: list[str] | None = None) -> int:
    """CLI: print every problem of a directory (default: this one); exit status 1 if there are any."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else HERE
    problems = validate(directory)
    for problem in problems:
        print(problem)
    if not problems:
        counts = [len(read_blocks(directory / name)) for name in SPLIT_FILES]
        print(f"{directory}: valid ({', '.join(f'{n} {s[:-4]}' for n, s in zip(counts, SPLIT_FILES))} blocks)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
