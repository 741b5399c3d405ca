"""nst_numpy.answers.check_answer: the coursework's checks of answers that are not a gradient."""

import numpy as np
import pytest

from nst_numpy import answers


def test_check_answer_numbers_arrays_and_the_placeholder():
    assert answers.check_answer(np.full(3, 2.0), np.full(3, 2.0 + 1e-9), "twos")
    assert not answers.check_answer(np.full(3, 2.0), np.full(3, 2.2), "twos")
    assert not answers.check_answer(np.zeros((2, 3)), np.zeros((3, 2)), "a transpose")
    assert not answers.check_answer(None, 1.0, "unanswered")
    assert not answers.check_answer("big", 1.0, "a word for a number")
    assert answers.check_answer(0.0, 0.0, "exact zero, no tolerance", rtol=0)
    assert not answers.check_answer(1.0, 1.01, "outside rtol", rtol=1e-3)
    assert answers.check_answer(1.0, 1.01, "inside atol", rtol=0, atol=0.02)


def test_check_answer_words_sets_dicts_and_what_it_prints():
    assert answers.check_answer({"relu1_1", "relu2_1"}, {"relu2_1", "relu1_1"}, "layers")
    assert not answers.check_answer(True, False, "a yes/no prediction")
    assert answers.check_answer({"a": 1.0, "b": "up"}, {"a": 1.0, "b": "up"}, "dict")
    expected = {"a": 1.0, "b": "up", "c": 3}
    wrong = answers.check_answer({"a": 1.0, "b": "down", "c": 3}, expected, "dict")
    assert not wrong and "1 of 3 entries are wrong" in str(wrong), wrong
    assert answers.check_answer(False, np.bool_(False), "a NumPy boolean")
    assert not answers.check_answer(1, True, "a number for a yes/no prediction")
    assert not answers.check_answer(True, 1, "a yes/no answer for a number")
    assert not answers.check_answer(np.ones(2), "up", "an array for a word")
    assert not answers.check_answer({"a": 1.0}, {"a": 1.0, "b": "up"}, "missing key")
    assert str(answers.check_answer(2, 2, "two")).startswith("answer check ok: two:")
    assert str(answers.check_answer(None, 2, "two")).startswith("answer check FAILED: two:")


def test_a_failed_answer_check_does_not_reveal_the_expected_value():
    for answer, expected in (("relu2_2", "relu4_3"), ({"a", "b"}, {"a", "c"}), (True, False),
                             ({"x": 3}, {"x": 5}), (0.0, 156.0), (np.zeros(3), np.arange(3.0))):
        check = answers.check_answer(answer, expected, "a prediction")
        assert not check, (answer, expected)
        assert repr(expected) not in check.detail and "156" not in check.detail, check.detail


def test_a_failed_check_of_yes_no_predictions_names_no_key_and_no_count():
    """Naming the wrong keys, or even counting them, of a dict of yes/no predictions lets
    one retry per key reveal every answer; the check says only that not all are right."""
    expected = {"shuffle": True, "mirror": True, "permute": False, "scale": False}
    for answer in ({"shuffle": True, "mirror": False, "permute": False, "scale": False},
                   {"shuffle": False, "mirror": False, "permute": True, "scale": False}):
        check = answers.check_answer(answer, expected, "G unchanged")
        assert not check
        text = str(check)
        assert not any(key in text for key in expected), text
        assert not any(str(n) in text.replace("all 4", "") for n in range(5)), text
        assert "True" not in text and "False" not in text, text


def test_a_failed_check_never_echoes_the_answer():
    for answer, expected in ((True, False), ("relu2_2", "relu4_3"), ({"a"}, {"b"}), (3, 5)):
        text = str(answers.check_answer(answer, expected, "a prediction"))
        assert repr(answer) not in text.split(": ", 1)[1] and str(answer) not in text, text


def test_score_is_points_times_the_share_passed_and_never_raises_for_an_answer():
    ok = answers.check_answer(1.0, 1.0, "one")
    failed = answers.check_answer(None, 1.0, "one")
    assert answers.score(ok, points=2) == 2.0 and answers.score(failed, points=2) == 0.0
    assert answers.score([ok, failed, ok], points=3) == 2.0
    shown = answers.score([ok, failed], points=2)
    assert repr(shown) == "1.0"                              # what nbgrader reads
    assert shown._repr_markdown_() == "**score: 1 of 2 points**"
    for points in (0, -1, True, "2"):
        with pytest.raises(ValueError, match="points"):
            answers.score(ok, points=points)


def test_a_dict_of_two_possible_values_is_treated_like_yes_no_predictions():
    """{layer: 3 or 5} (notebook 7's better_match): a count of wrong entries would reveal the
    answers one retry at a time, as for yes/no predictions."""
    expected = {"relu1_1": 3, "relu2_1": 5, "relu3_1": 5, "relu4_1": 3}
    answer = {"relu1_1": 3, "relu2_1": 3, "relu3_1": 5, "relu4_1": 3}
    check = answers.check_answer(answer, expected, "better match")
    assert not check and "not all 4 entries are right" in str(check), check
    assert not any(str(n) in str(check).replace("all 4", "") for n in range(6)), check
    three = dict(expected, relu4_1=4)                        # three values: the count is shown
    assert "2 of 4 entries are wrong" in str(answers.check_answer(answer, three, "three"))


def test_a_scalar_failure_gives_the_ratio_only_when_asked():
    half = answers.check_answer(2.0, 1.0, "a value", ratio=True)
    assert not half and "yours is 2 times the expected value" in str(half), half
    plain = answers.check_answer(2.0, 1.0, "a prediction")
    assert not plain and "times" not in str(plain) and "1 of 1" not in str(plain), plain
    assert "times" not in str(answers.check_answer(2.0, 0.0, "zero", ratio=True))
    assert answers.check_answer(1.0, 1.0, "equal", ratio=True)


def test_attempt_turns_an_error_into_one_failed_line():
    result, failure = answers.attempt("your f", lambda: 1 / 0)
    assert result is None and not failure and answers.score(failure, points=1) == 0
    assert str(failure) == "answer check FAILED: your f: your code raised ZeroDivisionError: " \
                           "division by zero", failure
    assert answers.attempt("your f", lambda x: 2 * x, 3) == (6, None)


def test_attempt_refuses_the_library_even_when_the_error_is_caught():
    from nst_numpy import losses

    def swallowing(F):
        try:
            return losses.gram_matrix(F)
        except Exception:
            return F @ F.T
    F = np.ones((2, 3))
    for wrapper in (lambda F: losses.gram_matrix(F), swallowing):
        result, failure = answers.attempt("gram", wrapper, F, forbidden=[(losses, "gram_matrix")])
        assert result is None and "losses.gram_matrix may not be used here" in str(failure)
    assert losses.gram_matrix(F).shape == (2, 2)             # restored after the attempt


def test_library_subclass_names_the_library_class_a_term_derives_from():
    from nst_numpy import terms

    class Mine(terms.Term):
        pass

    class Wrapped(terms.Content):
        pass
    assert answers.library_subclass(Mine, terms) is None
    assert "derives from the library's Content" in str(answers.library_subclass(Wrapped, terms))
