"""The stub generator replaces solution regions and rejects misplaced markers."""
import ast
import textwrap

import pytest

from grading.authoring.stubgen import GENERATED_HEADER, MarkerError, find_regions, stub_source

SOURCE = textwrap.dedent('''\
    """Doc."""


    def top(x):
        """Top doc."""
        ### BEGIN SOLUTION
        return x + 1
        ### END SOLUTION


    class Box:
        def method(self):
            """Method doc."""
            value = 1
            ### BEGIN SOLUTION
            value += 1
            ### END SOLUTION
            return value
    ''')


def stub(source=SOURCE):
    return stub_source(source, "pkg/mod.py", "Module 01 (tensor)", "tinytorch/core/tensor.py")


def test_regions_name_their_enclosing_function():
    regions = find_regions(SOURCE, "pkg/mod.py")
    assert [r.function for r in regions] == ["top", "Box.method"]
    assert [(r.begin, r.end) for r in regions] == [(6, 8), (15, 17)]


def test_stub_replaces_each_region_with_a_named_not_implemented_error():
    text = stub()
    assert text.startswith(GENERATED_HEADER.format(source="tinytorch/core/tensor.py"))
    assert "return x + 1" not in text and "value += 1" not in text
    assert "raise NotImplementedError('Module 01 (tensor): implement top -- see its docstring')" in text
    assert "implement Box.method" in text
    # Signatures, docstrings and code outside the regions survive; the stub still parses.
    assert '"""Method doc."""' in text and "value = 1" in text and "return value" in text
    ast.parse(text)


def test_stub_of_a_file_without_regions_is_the_file_plus_header():
    assert stub("x = 1\n") == GENERATED_HEADER.format(source="tinytorch/core/tensor.py") + "x = 1\n"


@pytest.mark.parametrize("body,line,fragment", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", 2, "never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", 3, "without a matching"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", 3, "nested"),
    ("def f():\n    ### BEGIN SOLUTION\n    # only a comment\n    ### END SOLUTION\n    return 1\n", 2, "empty"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", 1, "not inside a function"),
    ("def f():\n    ## BEGIN SOLUTION\n    return 1\n", 2, "malformed"),
])
def test_bad_markers_are_errors_with_file_and_line(body, line, fragment):
    with pytest.raises(MarkerError, match=fragment) as caught:
        stub(body)
    assert str(caught.value).startswith(f"pkg/mod.py:{line}:")
