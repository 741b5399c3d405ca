"""Checks of the coursework's answers that are not a gradient: a prediction, a shape, a
count, a formula's value.

:func:`nst_numpy.gradcheck.check_gradient` checks a hand-derived gradient against finite
differences; :func:`check_answer` compares any other answer with the value the library or a
measurement gives. Both print a line a student reads, ``... check ok`` or ``... check
FAILED``, and a failure says where an answer is wrong but never what was expected.
"""

from dataclasses import dataclass

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


def check_answer(answer, expected, what, rtol=1e-6, atol=0.0):
    """Compare an exercise's answer with the value the library or a measurement gives.

    For the exercises that are not a gradient (a prediction, a shape, a count, a formula's
    value). Numbers and arrays pass when their shapes agree and
    ``|answer - expected| <= atol + rtol |expected|`` everywhere (``np.allclose``); strings,
    booleans and sets must be equal; dicts are compared key by key. ``None``, the
    placeholder of an unanswered exercise, fails. Prints as ``answer check ok: ...`` or
    ``answer check FAILED: ...``; a failure says where the answer is wrong but never what
    the expected value is, so a guess does not reveal the answer.
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
        wrong = [key for key in expected
                 if not check_answer(answer[key], expected[key], what, rtol, atol)]
        if wrong:
            return AnswerCheckResult(what, False, f"wrong at {', '.join(map(repr, wrong))}")
        return AnswerCheckResult(what, True, f"all {len(expected)} entries agree")
    if _is_numeric(expected) and not isinstance(expected, (bool, np.bool_)):
        if not _is_numeric(answer):
            return AnswerCheckResult(what, False, f"expected a number or array, got {answer!r}")
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
        return AnswerCheckResult(what, False, f"{np.count_nonzero(~close)} of {close.size} "
                                              f"entries outside the tolerance {tolerance}")
    answer, expected = _plain(answer), _plain(expected)
    if isinstance(answer, bool) == isinstance(expected, bool) and _equal(answer, expected):
        return AnswerCheckResult(what, True, "as expected")
    return AnswerCheckResult(what, False, f"your answer {answer!r} is not right")


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
