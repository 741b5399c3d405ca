"""Checks of the coursework's answers that are not a gradient: a prediction, a shape, a
count, a formula's value; and the score a graded check cell ends with.

:func:`nst_numpy.gradcheck.check_gradient` checks a hand-derived gradient against finite
differences; :func:`check_answer` compares any other answer with the value the library or a
measurement gives. Both print a line a student reads, ``... check ok`` or ``... check
FAILED``, and a failure never says what was expected: not the value, not which entries of a
set of yes/no predictions are wrong. :func:`score` turns checks into points for a grading
tool (nbgrader reads the number a grade cell's last expression shows).
"""

import contextlib
from dataclasses import dataclass
from unittest import mock

import numpy as np


@dataclass
class AnswerCheckResult:
    """Outcome of :func:`check_answer`: ``what`` was asked, ``detail`` says how it compared."""

    what: str
    passed: bool
    detail: str

    def __bool__(self):
        return self.passed

    def __str__(self):
        return f"answer check {'ok' if self.passed else 'FAILED'}: {self.what}: {self.detail}"


def check_answer(answer, expected, what, rtol=1e-6, atol=0.0, ratio=False):
    """Compare an exercise's answer with the value the library or a measurement gives.

    For the exercises that are not a gradient (a prediction, a shape, a count, a formula's
    value). Numbers and arrays pass when their shapes agree and
    ``|answer - expected| <= atol + rtol |expected|`` everywhere (``np.allclose``); strings,
    booleans and sets must be equal; dicts are compared key by key. ``None``, the
    placeholder of an unanswered exercise, fails. Prints as ``answer check ok: ...`` or
    ``answer check FAILED: ...``. A failure never shows the expected value nor echoes the
    answer, and never names the wrong keys of a dict: it says how many entries are wrong,
    except for a dict of yes/no predictions, where even the count would give the answers
    away one retry at a time.
    """
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.floating)) \
                or not value >= 0:
            raise ValueError(f"check_answer: {name} must be a number >= 0, got {value!r}")
    if answer is None:
        return AnswerCheckResult(what, False, "no answer yet (the placeholder is None)")
    if isinstance(expected, dict):
        if not isinstance(answer, dict) or set(answer) != set(expected):
            keys = sorted(map(str, expected))
            return AnswerCheckResult(what, False, f"expected a dict with keys {keys}")
        wrong = sum(not check_answer(answer[key], expected[key], what, rtol, atol)
                    for key in expected)
        if not wrong:
            return AnswerCheckResult(what, True, f"all {len(expected)} entries agree")
        if _at_most_two_values(expected.values()):
            return AnswerCheckResult(what, False, f"not all {len(expected)} entries are "
                                                  "right")
        return AnswerCheckResult(what, False, f"{wrong} of {len(expected)} entries are wrong")
    if _is_numeric(expected) and not isinstance(expected, (bool, np.bool_)):
        if not _is_numeric(answer) or isinstance(_plain(answer), bool):
            return AnswerCheckResult(what, False, "expected a number or an array of numbers")
        answer, expected = np.asarray(answer, float), np.asarray(expected, float)
        if answer.shape != expected.shape:
            return AnswerCheckResult(what, False, f"your answer has shape {answer.shape}, "
                                                  "which is not the expected shape")
        close = np.isclose(answer, expected, rtol=rtol, atol=atol)
        tolerance = f"(rtol {rtol:g}, atol {atol:g})"
        if close.all():
            difference = float(np.max(np.abs(answer - expected), initial=0.0))
            return AnswerCheckResult(what, True, f"largest difference {difference:.3g} "
                                                 f"{tolerance}")
        if ratio and expected.size == 1 and expected.item() != 0 \
                and np.isfinite(answer.item()):
            return AnswerCheckResult(what, False, f"yours is {answer.item() / expected.item():.4g}"
                                                  f" times the expected value {tolerance}")
        if expected.size == 1:
            return AnswerCheckResult(what, False, f"outside the tolerance {tolerance}")
        return AnswerCheckResult(what, False, f"{np.count_nonzero(~close)} of {close.size} "
                                              f"entries outside the tolerance {tolerance}")
    answer, expected = _plain(answer), _plain(expected)
    if isinstance(answer, bool) == isinstance(expected, bool) and _equal(answer, expected):
        return AnswerCheckResult(what, True, "as expected")
    return AnswerCheckResult(what, False, f"not the right answer{_kind_hint(answer, expected)}")


def _at_most_two_values(values):
    """Whether ``values`` hold at most two distinct values (then a count of wrong entries
    would reveal the answers)."""
    distinct = []
    for value in values:
        value = _plain(value)
        if isinstance(value, np.ndarray):
            return False
        if not any(type(value) is type(seen) and _equal(value, seen) for seen in distinct):
            distinct.append(value)
        if len(distinct) > 2:
            return False
    return True


def _kind_hint(answer, expected):
    """', expected a set' and the like, when the answer is of another kind than expected."""
    for kind, name in ((bool, "True or False"), (str, "a word"), ((set, frozenset), "a set"),
                       (list, "a list")):
        if isinstance(expected, kind) and not isinstance(answer, kind):
            return f" (expected {name})"
    return ""


def _plain(value):
    """A NumPy scalar (np.bool_, np.str_, ...) as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


def _equal(answer, expected):
    try:
        return bool(answer == expected)
    except (ValueError, TypeError):          # e.g. an array compared with a word
        return False


def _is_numeric(value):
    return np.asarray(value).dtype.kind in "biuf" and not isinstance(value, (set, dict, str))


class LibraryUsed(Exception):
    """Raised by a library function that an exercise's answer may not call."""


def attempt(what, function, *args, forbidden=(), **kwargs):
    """Call a student's ``function(*args, **kwargs)`` for a check cell, without letting an
    error stop the notebook.

    Returns ``(result, None)``, or ``(None, failure)`` where ``failure`` is a failed
    :class:`AnswerCheckResult` (it prints as one line naming the error's type and message, no
    traceback, and scores 0). ``forbidden`` lists ``(module, name)`` pairs, the library's
    functions or classes the exercise replaces: during the call each raises
    :class:`LibraryUsed`, and a call of one fails the check even when the student's code
    catches the error, so that wrapping the library does not pass.
    """
    used = []

    def refuse(label):
        def refused(*args, **kwargs):
            used.append(label)
            raise LibraryUsed(f"the library's {label} may not be used here: write it yourself")
        return refused

    with contextlib.ExitStack() as stack:
        for module, name in forbidden:
            label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
            stack.enter_context(mock.patch.object(module, name, refuse(label)))
        try:
            result = function(*args, **kwargs)
        except Exception as error:       # the student's error, reported in one line
            if used:
                return None, _library_used(what, used)
            message = str(error).strip().splitlines()
            detail = f"your code raised {type(error).__name__}"
            return None, AnswerCheckResult(what, False, detail + (f": {message[0]}" if message
                                                                  else ""))
    if used:
        return None, _library_used(what, used)
    return result, None


def _library_used(what, used):
    return AnswerCheckResult(what, False, f"the library's {used[0]} may not be used here: "
                                          "write it yourself")


def library_subclass(cls, module):
    """A failed :class:`AnswerCheckResult` when the class ``cls`` derives from a class of
    ``module`` other than its base ``Term`` (a student's term that inherits the library's
    computation), else ``None``."""
    for base in getattr(cls, "__mro__", ())[1:]:
        if base.__module__ == module.__name__ and base.__name__ != "Term":
            return AnswerCheckResult(f"your {cls.__name__}", False,
                                     f"it derives from the library's {base.__name__}, which "
                                     "may not be used here: derive from Term and write it "
                                     "yourself")
    return None


class Score(float):
    """Points earned, a float (what a grading tool reads from the text form), shown in a
    notebook as ``score: 2 of 2 points``."""

    points = 0.0

    def _repr_markdown_(self):
        return f"**score: {float(self):g} of {self.points:g} points**"


def score(checks, points):
    """The points a graded check cell earns: ``points`` times the share of ``checks`` that
    passed (a result of :func:`check_answer` or :func:`nst_numpy.gradcheck.check_gradient`,
    or a list of them).

    A grade cell of the coursework ends with this call, so that its last value is the score:
    nbgrader's autograder gives that many points (an error in the cell gives 0), and a
    notebook shows it. It never raises for a wrong or missing answer, only for ``points``
    that are not a positive number.
    """
    if isinstance(points, (bool, np.bool_)) or not isinstance(points, (int, float)) \
            or not points > 0:
        raise ValueError(f"score: points must be a number > 0, got {points!r}")
    checks = list(checks) if isinstance(checks, (list, tuple)) else [checks]
    if not checks:
        raise ValueError("score: no checks given")
    earned = Score(round(points * sum(bool(c) for c in checks) / len(checks), 2))
    earned.points = float(points)
    return earned
