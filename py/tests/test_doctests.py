"""Runs every docstring example, including the native classes' (whose docstrings live in the
Rust source): pytest's --doctest-modules reads only .py files and would skip them silently.
The collection itself is checked: every public native method must carry an example."""

from __future__ import annotations

import doctest
import inspect
from collections.abc import Iterator

import pytest

import gogroup
from gogroup import _aio, _errors, _gogroup

NATIVE = [_gogroup.CancelToken, _gogroup.Registration, _gogroup.WaitGroup, _gogroup.ErrGroup]
# Dunders documented through their class (and __exit__ through __enter__'s example).
NO_EXAMPLE_NEEDED = {"__new__", "__exit__", "__aenter__", "__aexit__", "__repr__"}


def native_docstrings() -> Iterator[tuple[str, str]]:
    for cls in NATIVE:
        yield f"{cls.__name__}", cls.__doc__ or ""
        for name in vars(cls):
            if name.startswith("__") and name != "__enter__":
                continue
            if name.startswith("_") and not name.startswith("__"):
                continue
            attr = vars(cls)[name]
            doc = attr.__doc__ if isinstance(attr, property) else getattr(cls, name).__doc__
            yield f"{cls.__name__}.{name}", doc or ""


def python_docstrings() -> Iterator[tuple[str, str]]:
    for module in (gogroup, _errors, _aio):
        for test in doctest.DocTestFinder().find(module, module.__name__):
            if test.examples:
                yield test.name, test.docstring or ""


CASES = sorted({*native_docstrings(), *python_docstrings()})


def test_every_public_native_method_and_property_has_an_example() -> None:
    parser = doctest.DocTestParser()
    missing = [
        name
        for name, doc in native_docstrings()
        if name.rsplit(".", 1)[-1] not in NO_EXAMPLE_NEEDED and not parser.get_examples(doc)
    ]
    assert missing == []
    # The collection really found the native docstrings (4 classes, about 40 examples).
    native = [name for name, doc in native_docstrings() if parser.get_examples(doc)]
    assert len(native) >= 35, native
    assert {name for name, _ in CASES} >= set(native)


@pytest.mark.parametrize(("name", "doc"), CASES, ids=[c[0] for c in CASES])
def test_docstring_examples_run(name: str, doc: str) -> None:
    test = doctest.DocTestParser().get_doctest(
        inspect.cleandoc(doc) if not doc.startswith("\n") else doc, {}, name, None, 0
    )
    if not test.examples:
        pytest.skip("no examples")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted > 0
    assert failed == 0, f"{failed} of {attempted} examples of {name} failed (see output above)"
