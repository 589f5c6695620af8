"""The check helpers that every test cell uses: messages a student can act on, no hidden leaks."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("checks", REPO.source / "checks.py")
checks = importlib.util.module_from_spec(spec)
sys.modules["checks"] = checks
spec.loader.exec_module(checks)


def svm_loss_without_margin(S, y):
    return 4.266666666666667


def test_visible_failure_names_call_expected_got_and_mistake():
    S = np.array([[3.2, 1.3], [5.1, 4.9]])
    with pytest.raises(checks.CheckFailed) as failure:
        checks.expect_close(checks.call(svm_loss_without_margin, S, np.array([0, 1])), 5.266666666666667,
                            mistakes={"no margin (Δ = 0)": 4.266666666666667})
    message = str(failure.value)
    assert "svm_loss_without_margin(np.array([[3.2, 1.3], [5.1, 4.9]]), np.array([0, 1]))" in message
    assert "expected: 5.26667" in message and "got:      4.26667" in message
    assert "This matches a known mistake: no margin (Δ = 0)." in message


def test_hidden_failure_reveals_no_input_value_or_print():
    def leaky(S, y):
        print("LEAKED", S)
        raise ValueError(f"bad {S}")

    S = np.array([[123.456, 7.0]])
    with pytest.raises(checks.CheckFailed) as failure:
        checks.call(leaky, S, np.array([0]), hidden="one example")
    message = str(failure.value)
    assert "hidden test (one example)" in message and "ValueError" in message
    assert "123.456" not in message
    with pytest.raises(checks.CheckFailed) as failure:
        checks.expect_close(checks.call(svm_loss_without_margin, S, [0], hidden="one example"), 987.654,
                            mistakes={"no margin": 4.2666666})
    assert "987.654" not in str(failure.value) and "4.26" not in str(failure.value)
    assert "no margin" in str(failure.value)


def test_hidden_call_swallows_output(capsys):
    checks.call(lambda: print("secret"), hidden="case")
    assert "secret" not in capsys.readouterr().out


def test_numbers_of_any_type_pass_and_arrays_need_their_shape():
    for value in (2.9, np.float32(2.9), np.float64(2.9), np.array(2.9), np.array([2.9])):
        checks.expect_close(checks.value(value, "x"), 2.9, rtol=1e-6)
    with pytest.raises(checks.CheckFailed, match=r"shape \(1, 3\), expected shape \(3,\)"):
        checks.expect_close(checks.value(np.zeros((1, 3)), "losses"), [0, 0, 0])


def test_none_and_non_numbers_are_explained():
    with pytest.raises(checks.CheckFailed, match="forget `return`"):
        checks.expect_close(checks.value(None, "f(x)"), 1.0)
    with pytest.raises(checks.CheckFailed, match="returned a str"):
        checks.expect_close(checks.value("one", "f(x)"), 1.0)


def test_not_implemented_is_named():
    def todo():
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed, match="todo is not implemented yet"):
        checks.call(todo)


def test_nan_result_is_called_out():
    with pytest.raises(checks.CheckFailed, match="nan or inf") as failure:
        checks.expect_close(checks.value(np.array([np.nan, 0.7311]), "softmax(s)"), [0.2689, 0.7311],
                            mistakes={"no max-subtraction": [np.nan, 0.7311]})
    assert "no max-subtraction" in str(failure.value)


def test_overflow_warning_is_caught_and_not_printed():
    def naive_sigmoid(z):
        return 1 / (1 + np.exp(-z))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = checks.call(naive_sigmoid, np.array([-1000.0]))
    with pytest.raises(checks.CheckFailed, match="RuntimeWarning: overflow"):
        checks.expect_no_warning(outcome)


def test_stderr_of_student_code_is_not_stderr_of_the_test_cell(capsys):
    def chatty(x):
        print("note", file=sys.stderr)
        return x

    checks.expect_close(checks.call(chatty, 1.0), 1.0)
    captured = capsys.readouterr()
    assert captured.err == "" and "note" in captured.out


def test_inputs_are_copied_so_in_place_changes_do_not_leak():
    S = np.array([1.0, 2.0])

    def mutate(a):
        a -= a.max()
        return a

    checks.call(mutate, S)
    assert S.tolist() == [1.0, 2.0]


def test_references_replace_helpers_only_during_the_checked_call():
    namespace: dict = {}
    exec("def helper(x):\n    return -x\n\ndef outer(x):\n    return helper(x) + 1\n", namespace)
    checks.use_references("outer", helper=lambda x: x)
    try:
        checks.expect_close(checks.call(namespace["outer"], 2.0), 3.0)
        assert namespace["helper"](2.0) == -2.0
    finally:
        checks.use_references("outer")


def test_exact_answers():
    checks.expect_equal(checks.value((16, 625), "answer"), (16, 625))
    checks.expect_equal(checks.value(False, "answer"), False)
    with pytest.raises(checks.CheckFailed, match="transposed"):
        checks.expect_equal(checks.value((625, 16), "answer"), (16, 625), mistakes={"transposed": (625, 16)})
    with pytest.raises(checks.CheckFailed):
        checks.expect_equal(checks.value(0, "answer"), False)


def test_indexing_a_wrong_return_type_is_explained():
    outcome = checks.value(np.array([1.0]), "forward_propagation(...)")
    with pytest.raises(checks.CheckFailed, match="has no part"):
        outcome[1]["z_a"]
