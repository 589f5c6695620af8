"""The check helpers that every test cell uses: messages a student can act on, no hidden leaks."""

from __future__ import annotations

import importlib.util
import json
import linecache
import shutil
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


def test_a_function_that_changes_its_input_fails_and_the_caller_keeps_its_array():
    S = np.array([1.0, 2.0])

    def mutate(scores):
        scores -= scores.max()
        return scores

    with pytest.raises(checks.CheckFailed, match=r"^mutate\(np.array\(\[1.0, 2.0\]\)\) changed its input "
                                                 r"`scores` in place\."):
        checks.call(mutate, S)
    assert S.tolist() == [1.0, 2.0]
    hidden_change = r"on a hidden test \(case\) changed its input `scores`"
    with pytest.raises(checks.CheckFailed, match=hidden_change) as failure:
        checks.call(mutate, np.array([123.456, 7.0]), hidden="case")
    assert "123.456" not in str(failure.value)
    checks.call(lambda scores: scores - scores.max(), S)  # a new array: fine


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


# --- what a student sees ---------------------------------------------------------------------------


def test_jupyter_shows_only_the_message_and_str_keeps_all_of_it():
    with pytest.raises(checks.CheckFailed) as failure:
        checks.expect_close(checks.value(2.0, "f(1)"), 3.0, mistakes={"off by one": 2.0})
    shown = failure.value._render_traceback_()
    assert "f(1) returned a wrong value." in shown[0]
    assert shown[-1] == "This matches a known mistake: off by one."
    assert not any("checks.py" in line or "File " in line for line in shown)
    assert str(failure.value).splitlines() == [line.replace("\x1b[31m\x1b[1m", "").replace("\x1b[0m", "")
                                               for line in shown]


def test_functions_are_named_and_matrices_aligned():
    def identity(z):
        return z

    def wrong_layer(W, b, X, activation):
        return activation(W @ X) * 0

    with pytest.raises(checks.CheckFailed) as failure:
        checks.expect_close(checks.call(wrong_layer, np.eye(2), np.zeros(2), np.eye(2), identity), np.eye(2))
    message = str(failure.value)
    assert ", identity)" in message and "0x" not in message
    lines = message.splitlines()
    assert lines[1] == "  expected: [[1., 0.],"
    assert lines[2] == "             [0., 1.]]"
    assert checks._argument_text(np.tanh) == "np.tanh"


def test_a_passing_test_prints_one_confirmation(capsys):
    checks.passed("sigmoid")
    assert capsys.readouterr().out.count("\n") == 1
    checks.call(lambda: 1.0, hidden="a hidden case")
    checks.passed("sigmoid")
    assert capsys.readouterr().out == "\u2714 sigmoid passed all tests.\n"


def test_an_unanswered_question_is_explained():
    namespace = {"checks": checks}
    with pytest.raises(checks.CheckFailed, match="answer_x is not defined yet: in the cell above"):
        exec("checks.answer('answer_x')", namespace)
    namespace["answer_x"] = 3
    exec("value = checks.answer('answer_x')", namespace)
    assert namespace["value"] == 3


def test_a_demo_cell_names_what_to_implement_first_and_draws_nothing(capsys):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def sigmoid(z):
        raise NotImplementedError()

    before = plt.get_fignums()
    with checks.needs("sigmoid"):
        plt.figure()
        sigmoid(1.0)
    with checks.needs("answer_n_biases"):
        answer_n_biases  # noqa: B018, F821
    out = capsys.readouterr().out.splitlines()
    assert out == ["Implement sigmoid above first (this cell uses it).",
                   "Answer the question that defines answer_n_biases above first (this cell uses it)."]
    assert plt.get_fignums() == before


def test_a_demo_cell_never_crashes_on_a_wrong_function_and_says_what_to_fix(capsys):
    def svm_losses(S, y):
        return np.max(0, S - 1)

    def layer_forward(W, b, X):
        return X @ W

    with checks.needs("svm_losses"):
        svm_losses(np.ones((3, 3)), np.array([0, 1, 2]))
    with checks.needs("layer_forward"):
        layer_forward(np.ones((2, 3)), 0, np.ones((3, 4)))
    with checks.needs("svm_losses"):
        checks.first(checks.requires(lambda S: S.sum(axis=1), np.array([[1.0, 2.0]]), expected=[1.0, 2.0]))
        print("not reached")
    first, second, third = capsys.readouterr().out.splitlines()
    assert first.startswith("Fix svm_losses above first (this cell uses it): it raised TypeError, "
                            "np.max(0, v)")
    assert "np.maximum(0, v)" in first and "only integer scalar" not in first
    assert second.startswith("Fix layer_forward above first") and "Θ · x, not x · Θ" in second
    assert third.startswith("Fix <lambda> above first (this cell uses it; its test says what is wrong): "
                            "<lambda>(np.array([[1.0, 2.0]])) has shape (1,), expected shape (2,)")


def test_without_matplotlib_a_plot_says_in_one_line_what_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # how Python marks a module as absent
    plt = checks.pyplot()
    assert not plt
    with checks.needs("sigmoid"):
        print("values first")
        plt.figure(figsize=(5, 3))
    assert capsys.readouterr().out.splitlines() == [
        "values first", "This cell draws a plot: to see it, install matplotlib (conda install matplotlib, or "
        "pip install matplotlib) and restart the kernel; nothing else needs it."]


def test_a_dependent_test_says_which_helper_to_fix_first():
    namespace: dict = {}
    exec("def helper(x):\n    return -x\n\ndef outer(x):\n    return helper(x) + 1\n", namespace)
    broken = checks.requires(namespace["helper"], 2.0, expected=2.0)
    with pytest.raises(checks.CheckFailed) as failure, checks.fix_first(broken, broken):
        checks.expect_close(checks.call(namespace["outer"], 2.0), 3.0)
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("Fix helper first: this test uses helper, which is not right yet")
    assert "helper(2.0) returned a wrong value." in lines[1]
    assert "outer(2.0) returned a wrong value." in lines[2]
    fine = checks.requires(namespace["outer"], 1.0, expected=0.0)
    with pytest.raises(checks.CheckFailed) as failure, checks.fix_first(fine):
        checks.expect_close(checks.value(1.0, "x"), 2.0)
    assert "first" not in str(failure.value)


def test_exceptions_warnings_and_ranges_can_be_named_as_mistakes():
    def precision(y_true, y_pred):
        return 0 / 0

    with pytest.raises(checks.CheckFailed, match=r"ZeroDivisionError.*\nThis matches a known mistake: no"):
        checks.call(precision, [1], [0], mistakes={ZeroDivisionError: "no guard"})
    with pytest.raises(checks.CheckFailed, match="known mistake: coarse eps"):
        checks.expect_close(checks.value(1e-3, "bce"), 0.0, atol=1e-6,
                            mistakes={"coarse eps": lambda cost: 1e-6 < float(cost) < 0.1})
    outcome = checks.call(lambda z: np.exp(-z), np.array([-1000.0]))
    with pytest.raises(checks.CheckFailed, match=r"overflow.*\nThis matches a known mistake: naive"):
        checks.expect_no_warning(outcome, mistake="naive")


# --- a helper swap never gives points to code that does not run ------------------------------------


def _functions(code: str) -> dict:
    namespace: dict = {"np": np}
    exec(code, namespace)
    return namespace


def test_functions_that_only_call_each_other_earn_nothing():
    names = _functions("def precision(t, p):\n    return recall(p, t)\n\n"
                       "def recall(t, p):\n    return precision(p, t)\n")
    checks.use_references("precision", recall=lambda t, p: 1.0)
    try:
        with pytest.raises(checks.CheckFailed, match="raised RecursionError"):
            checks.call(names["precision"], [1], [1])
    finally:
        checks.use_references("precision")


def test_a_broken_helper_costs_only_its_own_points():
    names = _functions("def sigmoid(z):\n    raise NotImplementedError()\n\n"
                       "def layer(W, x):\n    return (W * x).sum()\n\n"
                       "def forward(W, x):\n    return sigmoid(layer(W, x))\n")
    checks.use_references("forward", sigmoid=lambda z: 1 / (1 + np.exp(-z)), layer=lambda W, x: W @ x)
    try:
        outcome = checks.call(names["forward"], np.array([[1.0, 0.0]]), np.array([0.0, 0.0]))
        checks.expect_close(outcome, [0.5])
    finally:
        checks.use_references("forward")


def test_a_function_that_fails_with_correct_helpers_of_its_own_earns_nothing():
    names = _functions("def helper(x):\n    return [2 * v for v in x]\n\n"
                       "def outer(x):\n    return helper(x).sum()\n")
    checks.use_references("outer", helper=lambda x: 2 * np.asarray(x))
    try:
        with pytest.raises(checks.CheckFailed, match="raised AttributeError"):
            checks.call(names["outer"], np.array([1.0, 2.0]))
    finally:
        checks.use_references("outer")


def _raises_in(code: str, name: str):
    """A function defined the way IPython defines a cell's (its source known to linecache)."""
    filename = f"<cell {name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    namespace: dict = {"np": np}
    exec(compile(code, filename, "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize(("code", "args", "sentence"), [
    ("import math\ndef sigmoid(z):\n    return 1 / (1 + math.exp(-z))\n", (np.array([0.0, 1.0]),),
     "Use numpy's np.exp"),
    ("def sigmoid(z):\n    import math\n    return 1 / (1 + math.exp(-z))\n", (-1000.0,),
     "math.exp overflowed"),
    ("def layer(W, X):\n    return X @ W\n", (np.ones((2, 3)), np.ones((3, 4))), "Θ · x, not x · Θ"),
    ("def l2(theta):\n    return np.sum(theta ^ 2)\n", (np.array([1.0, 2.0]),), "^ is not a power"),
    ("def l2(theta):\n    return sum(theta) ^ 2\n", (np.array([1.0, 2.0]),), "^ is not a power"),
    ("def hinge(s):\n    return max(0, s - 1)\n", (np.array([1.0, 2.0]),), "Python's max(0, v)"),
    ("def hinge(s):\n    return np.max(0, s - 1)\n", (np.array([1.0, 2.0]),), "Write np.maximum(0, v)"),
    ("def losses(S, y):\n    return S - S[y]\n", (np.ones((3, 2)), np.array([0, 1])), "S[y, np.arange(N)]"),
])
def test_python_and_numpy_errors_are_explained_in_one_sentence_with_the_line(code, args, sentence):
    func = _raises_in(code, code.split("def ")[1].split("(")[0])
    with pytest.raises(checks.CheckFailed) as failure:
        checks.call(func, *args)
    first, meaning, where = str(failure.value).splitlines()
    assert " raised " in first and meaning.startswith("What it means: ") and sentence in meaning
    assert where.startswith(f"It happened in {func.__name__}, in the line `") and "return" in where
    with pytest.raises(checks.CheckFailed) as failure:
        checks.call(func, *args, hidden="a case")
    lines = str(failure.value).splitlines()  # on a hidden test: the sentence, not numpy's words or the line
    assert lines[0].endswith(" on a hidden test (a case) raised " + lines[0].rsplit(" ", 1)[1])
    assert sentence in lines[1] and len(lines) == 2


def test_the_right_numbers_in_the_wrong_shape_are_named_without_telling_a_hidden_shape():
    with pytest.raises(checks.CheckFailed, match=r"the numbers are right, but in an array of shape \(1, 3\) "
                                                 r"instead of \(3,\)"):
        checks.expect_close(checks.value(np.array([[2.9, 0.0, 12.9]]), "svm_losses(S, y)"), [2.9, 0.0, 12.9])
    with pytest.raises(checks.CheckFailed) as failure:
        checks.expect_close(checks.Outcome(np.array([[2.9, 0.0, 12.9]]), "svm_losses", "a case"),
                            [2.9, 0.0, 12.9])
    assert "the numbers are right" in str(failure.value) and "(3,)" not in str(failure.value)


def _test_cell(name: str, points: float) -> dict:
    return {"cell_type": "code", "source": "", "metadata": {"nbgrader": {
        "grade": True, "grade_id": f"test_{name}", "points": points, "solution": False, "locked": True}}}


def test_the_summary_adds_up_the_points_of_functions_that_still_pass(tmp_path, monkeypatch, capsys):
    cells = [_test_cell(name, points) for name, points in (("softmax", 3), ("loss", 2), ("answer_x", 1),
                                                           ("other", 1))]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(checks, "_passes", {})
    monkeypatch.setattr(checks, "_called", set())
    checks.summary("nb")
    assert capsys.readouterr().out.startswith("No visible test has run in this kernel yet")

    def softmax(S):
        return S

    def loss(S):
        return 1.0

    namespace = {"softmax": softmax, "loss": loss, "answer_x": 3}
    passing = "checks.passed('softmax')\nchecks.passed('loss')\nchecks.answered('answer_x')"
    exec(passing, {**namespace, "checks": checks})
    exec("checks.summary('nb')", {**namespace, "checks": checks, "loss": lambda S: 2.0})
    out = capsys.readouterr().out.splitlines()[-3:]
    assert out[0] == ("Visible tests: 3 of 6 points (softmax 3 of 3; loss 0 of 2: changed since its test "
                      "passed, run the test again; other 0 of 1: not passed yet).")
    assert out[1] == ("Questions: 1 point, checked only when your notebook is graded (1 of 1 answers have "
                      "the right format).")
    assert "hidden tests" in out[2]


def test_visible_tables_come_from_the_file_beside_checks_and_a_missing_one_is_explained(tmp_path):
    copy = tmp_path / "checks.py"
    shutil.copy(REPO.source / "checks.py", copy)
    spec = importlib.util.spec_from_file_location("checks_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(module.CheckFailed, match=r"^03_x_tests.json is missing or damaged: keep it next to"):
        module.visible_tables("03_x")
    (tmp_path / "03_x_tests.json").write_text('{"test_f": {"case": {"a mistake": [NaN, 1.0]}}}')
    assert module.visible_tables("03_x")["test_f"]["case"]["a mistake"][1] == 1.0


def test_only_a_line_of_the_students_cells_is_shown(tmp_path):
    module = tmp_path / "helper_module.py"
    module.write_text("def crash(v):\n    return max(0, v)\n")
    spec = importlib.util.spec_from_file_location("helper_module", module)
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    with pytest.raises(checks.CheckFailed) as failure:
        checks.call(helper.crash, np.array([1.0, 2.0]))
    assert "What it means: " in str(failure.value) and "It happened in" not in str(failure.value)
