"""Student-written text is data in every output: a submission whose errors are made of markup, links,
escape sequences and workflow commands gets them shown as text, never rendered or obeyed.

The hostile SGD raises one message that tries everything at once; visible tests show the message
(that is their purpose), so it reaches the report, the terminal table, the Markdown summary and the
annotations, and each must show it inert.
"""
from __future__ import annotations

import re

import pytest
from rich.console import Console

from grading import REPO_ROOT
from grading.judged.remote import last_line
from grading.reports import render, text
from tests.support.grading import graded, patch_sgd, runner, submission

HOSTILE = ("[link=http://evil.example]rich[/link] <img src=x onerror=alert(1)> <script>x</script> "
           "[click](http://evil.example) ![pixel](https://evil.example/p.png) www.evil.example **loud** `code` a|b "
           "\x1b[2J\x1b]8;;http://evil.example\x07link\x1b]8;;\x07 \u202eright-to-left\x00 "
           "\n::error title=forged::forged annotation\n::add-mask::x")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    optimizers = (REPO_ROOT / "reference" / "tinytorch" / "core" / "optimizers.py").read_text()
    hostile = patch_sgd(optimizers, f"raise ValueError({HOSTILE!r})")
    return graded(submission(tmp_path_factory.mktemp("hostile"), tinytorch__core__optimizers_py=hostile))


def test_the_report_keeps_the_words_without_a_control_character(report):
    m07 = runner(report, "m07")
    shown = [t["message"] for t in m07["tests"] if t["suite"] == "visible" and t["message"]]
    assert any("onerror=alert(1)" in message for message in shown), "the message is shown, as text"
    for value in [*shown, m07["message"]]:
        assert not CONTROL.search(value), repr(value)


def test_the_markdown_summary_has_no_tag_link_image_or_emphasis(report):
    summary = render.markdown(report)
    assert "&lt;img src=x onerror=alert(1)&gt;" in summary, "the student's words are there, escaped"
    for live in ("<img", "<script", "![", "**loud**", "`code`", "www.evil", "http://", "https://", "\x1b"):
        assert live not in summary, live
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", summary), "no [text](url): every bracket escaped"
    assert not CONTROL.search(summary.replace("\n", ""))
    table_rows = [line for line in summary.splitlines() if line.startswith("|")]
    assert {line.count(" | ") for line in table_rows if "m07" in line} == {6}, "no cell boundary from the message"


def test_annotations_carry_no_command_of_the_submissions(report):
    lines = render.annotations(report).splitlines()
    assert lines and all(re.match(r"::(notice|warning|error) ", line) for line in lines)
    assert all(line.count("::") == 2 for line in lines), "one command per line: ours"
    assert not any(CONTROL.search(line) for line in lines)


def test_the_terminal_table_shows_markup_as_text(report):
    console = Console(record=True, width=400, force_terminal=True)
    render.table(report, console)
    plain = console.export_text()
    assert "[link=http://evil.example]rich[/link]" in plain, "Rich markup in the message is shown, not applied"
    assert not any(line.startswith("::") for line in plain.splitlines())
    styled = console.export_text(styles=True)
    assert "\x1b[2J" not in styled and "\x1b]8;;http://evil" not in styled, "no escape sequence of the submission's"


def test_a_crashed_workers_output_is_quoted_as_one_clean_line():
    output = b"first\n" + ("x" * 5000).encode() + b"\n\x1b[31mlast \x00line\x1b[0m\n\n"
    assert last_line(output) == "[31mlast line[0m"
    assert len(last_line(b"y" * 5000)) == 200
    assert last_line(b"\n \n") == ""


@pytest.mark.parametrize("raw, shown", [
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ("[a](http://e.example)", "\\[a\\](http:/\u200b/e.example)"),
    ("a\nb\tc", "a b c"),
    ("test_03_layers.py::test_x _emphasis_ __init__", "test_03_layers.py::test_x \\_emphasis\\_ \\_\\_init\\_\\_"),
])
def test_markdown_inline_examples(raw, shown):
    assert text.markdown_inline(raw) == shown

