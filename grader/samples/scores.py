"""Samples for 06_scores: alternative correct solutions and typical mistakes."""

from grader.samples import Mistake

NOTEBOOK = "06_scores"

ALTERNATIVES = {
    "explicit loops, Python floats": {
        "mean_absolute_error": (
            "def mean_absolute_error(y_true, y_pred):\n"
            "    total, count = 0.0, 0\n"
            "    for t, p in zip(np.ravel(y_true), np.ravel(y_pred)):\n"
            "        total += abs(float(t) - float(p))\n"
            "        count += 1\n"
            "    return total / count\n"
        ),
        "mean_squared_error": (
            "def mean_squared_error(y_true, y_pred):\n"
            "    total = 0.0\n"
            "    flat_true, flat_pred = np.ravel(y_true), np.ravel(y_pred)\n"
            "    for i in range(flat_true.size):\n"
            "        total += (float(flat_true[i]) - float(flat_pred[i])) ** 2\n"
            "    return total / flat_true.size\n"
        ),
        "predict_classes": (
            "def predict_classes(S):\n"
            "    K, N = S.shape\n"
            "    classes = []\n"
            "    for i in range(N):\n"
            "        best = 0\n"
            "        for k in range(1, K):\n"
            "            if S[k, i] > S[best, i]:\n"
            "                best = k\n"
            "        classes.append(best)\n"
            "    return np.array(classes)\n"
        ),
        "accuracy": (
            "def accuracy(y_true, y_pred):\n"
            "    correct = 0\n"
            "    for t, p in zip(y_true, y_pred):\n"
            "        if t == p:\n"
            "            correct += 1\n"
            "    return correct / len(y_true)\n"
        ),
        "precision": (
            "def precision(y_true, y_pred):\n"
            "    tp = 0\n"
            "    fp = 0\n"
            "    for t, p in zip(y_true, y_pred):\n"
            "        if p == 1 and t == 1:\n"
            "            tp += 1\n"
            "        elif p == 1:\n"
            "            fp += 1\n"
            "    if tp + fp == 0:\n"
            "        return 0.0\n"
            "    return tp / (tp + fp)\n"
        ),
        "recall": (
            "def recall(y_true, y_pred):\n"
            "    tp = 0\n"
            "    fn = 0\n"
            "    for t, p in zip(y_true, y_pred):\n"
            "        if t == 1 and p == 1:\n"
            "            tp += 1\n"
            "        elif t == 1:\n"
            "            fn += 1\n"
            "    return tp / (tp + fn) if tp + fn > 0 else 0.0\n"
        ),
        "r2_score": (
            "def r2_score(y_true, y_pred):\n"
            "    n = len(y_true)\n"
            "    mean = sum(float(v) for v in y_true) / n\n"
            "    ss_res = 0.0\n"
            "    ss_tot = 0.0\n"
            "    for t, p in zip(y_true, y_pred):\n"
            "        ss_res += (float(t) - float(p)) ** 2\n"
            "        ss_tot += (float(t) - mean) ** 2\n"
            "    return 1.0 - ss_res / ss_tot\n"
        ),
    },
    "vectorized float32, 0-d arrays, helpers, recall through precision, prints": {
        "predict_classes": (
            "def predict_classes(S):\n"
            "    # one row per example, then the largest entry of each row\n"
            "    return S.T.argmax(axis=1)\n"
        ),
        "accuracy": (
            "def accuracy(y_true, y_pred):\n"
            "    hits = np.count_nonzero(np.equal(y_true, y_pred))\n"
            "    return np.array(np.float32(hits) / np.float32(np.size(y_true)))\n"
        ),
        "precision": (
            "def _true_positives(y_true, y_pred):\n"
            "    return np.count_nonzero(np.logical_and(y_true == 1, y_pred == 1))\n"
            "\n"
            "\n"
            "def precision(y_true, y_pred):\n"
            "    predicted = np.count_nonzero(y_pred == 1)\n"
            "    print('TP', _true_positives(y_true, y_pred), 'predicted positives', predicted)\n"
            "    # if nothing is predicted positive, TP = 0 as well: 0 / 1 = 0\n"
            "    tp = np.float32(_true_positives(y_true, y_pred))\n"
            "    return np.array(tp / np.float32(max(predicted, 1)))\n"
        ),
        "recall": (
            "def recall(y_true, y_pred):\n"
            "    # recall is the precision with the roles of truth and prediction exchanged\n"
            "    print('recall via precision')\n"
            "    return precision(y_pred, y_true)\n"
        ),
        "r2_score": (
            "def _sum_of_squares(values):\n"
            "    return np.sum(np.square(values, dtype=np.float32))\n"
            "\n"
            "\n"
            "def r2_score(y_true, y_pred):\n"
            "    y_true = np.asarray(y_true, dtype=np.float32)\n"
            "    y_pred = np.asarray(y_pred, dtype=np.float32)\n"
            "    ss_res = _sum_of_squares(y_true - y_pred)\n"
            "    ss_tot = _sum_of_squares(y_true - y_true.mean())\n"
            "    print('SS_res', ss_res, 'SS_tot', ss_tot)\n"
            "    return np.array(1 - ss_res / ss_tot)\n"
        ),
    },
    "confusion matrix with bincount, variance, a warning and a plot": {
        "predict_classes": (
            "def predict_classes(S):\n"
            "    return np.array([int(np.argmax(column)) for column in S.T])\n"
        ),
        "accuracy": (
            "def accuracy(y_true, y_pred):\n"
            "    return 1.0 - np.mean(y_true != y_pred)\n"
        ),
        "precision": (
            "def _confusion(y_true, y_pred):\n"
            "    # rows: true 0/1, columns: predicted 0/1\n"
            "    codes = 2 * np.asarray(y_true, dtype=np.int64) + np.asarray(y_pred, dtype=np.int64)\n"
            "    return np.bincount(codes, minlength=4).reshape(2, 2)\n"
            "\n"
            "\n"
            "def precision(y_true, y_pred):\n"
            "    cm = _confusion(y_true, y_pred)\n"
            "    tp, fp = cm[1, 1], cm[0, 1]\n"
            "    return float(tp / (tp + fp)) if tp + fp else 0.0\n"
        ),
        "recall": (
            "def recall(y_true, y_pred):\n"
            "    cm = _confusion(y_true, y_pred)\n"
            "    fig, ax = plt.subplots(figsize=(2, 2))\n"
            "    ax.imshow(cm)\n"
            "    plt.close(fig)\n"
            "    tp, fn = cm[1, 1], cm[1, 0]\n"
            "    if tp + fn == 0:\n"
            "        return 0.0\n"
            "    return tp / (tp + fn)\n"
        ),
        "r2_score": (
            "import warnings\n"
            "\n"
            "\n"
            "def r2_score(y_true, y_pred):\n"
            "    mse = np.mean((y_true - y_pred) ** 2)\n"
            "    r2 = 1 - mse / np.var(y_true)\n"
            "    if r2 < 0:\n"
            "        warnings.warn('worse than predicting the mean')\n"
            "    return r2\n"
        ),
    },
}

ALTERNATIVES["per-example losses, float32, 0-d arrays"] = {
    "mean_absolute_error": (
        "def mean_absolute_error(y_true, y_pred):\n"
        "    errors = np.abs(np.asarray(y_true, np.float32) - np.asarray(y_pred, np.float32))\n"
        "    per_example = np.atleast_2d(errors).mean(axis=0)  # one loss per column\n"
        "    return np.array(per_example.mean())\n"
    ),
    "mean_squared_error": (
        "def mean_squared_error(y_true, y_pred):\n"
        "    d = (np.asarray(y_true) - np.asarray(y_pred)).astype(np.float32)\n"
        "    print('squared errors of', d.size, 'values')\n"
        "    return np.float32(np.dot(d.ravel(), d.ravel()) / d.size)\n"
    ),
}

ALTERNATIVES["np.average and np.square"] = {
    "mean_absolute_error": (
        "def mean_absolute_error(y_true, y_pred):\n    return np.average(abs(y_pred - y_true))\n"
    ),
    "mean_squared_error": (
        "def mean_squared_error(y_true, y_pred):\n    return np.square(y_pred - y_true).mean()\n"
    ),
}


def _loss_mistake(name: str, cell: str, returned: str) -> Mistake:
    """A mistake in one of the two regression losses: the expression it returns."""
    code = f"def {cell}(y_true, y_pred):\n    return {returned}\n"
    return Mistake(name=name, cells={cell: code}, fails=(f"test_{cell}",))


AE, MSE = "mean_absolute_error", "mean_squared_error"

MISTAKES = [
    # --- mean_absolute_error (AE) ---
    _loss_mistake("AE: sum instead of mean", AE, "np.sum(np.abs(y_true - y_pred))"),
    _loss_mistake("AE: no abs", AE, "np.mean(y_true - y_pred)"),
    _loss_mistake("AE: squares instead of absolute values", AE, "np.mean((y_true - y_pred) ** 2)"),
    _loss_mistake("AE: wrong axis on a batch", AE, "np.mean(np.abs(y_true - y_pred), axis=0)"),
    _loss_mistake("AE: divides by len(y)", AE, "np.sum(np.abs(y_true - y_pred)) / len(y_true)"),
    # --- mean_squared_error (MSE) ---
    _loss_mistake("MSE: sum instead of mean", MSE, "np.sum((y_true - y_pred) ** 2)"),
    _loss_mistake("MSE: absolute instead of squared", MSE, "np.mean(np.abs(y_true - y_pred))"),
    _loss_mistake("MSE: squaring the mean error", MSE, "np.mean(y_true - y_pred) ** 2"),
    _loss_mistake("MSE: wrong axis on a batch", MSE, "np.mean((y_true - y_pred) ** 2, axis=0)"),
    _loss_mistake("MSE: the root of the MSE (RMSE)", MSE, "np.sqrt(np.mean((y_true - y_pred) ** 2))"),
    # --- the scores ---
    Mistake(
        name="argmax along the wrong axis",
        cells={"predict_classes": "def predict_classes(S):\n    return np.argmax(S, axis=1)\n"},
        fails=("test_predict_classes",),
    ),
    Mistake(
        name="the largest score instead of its index",
        cells={"predict_classes": "def predict_classes(S):\n    return np.max(S, axis=0)\n"},
        fails=("test_predict_classes",),
    ),
    Mistake(
        name="argmax without axis",
        cells={"predict_classes": "def predict_classes(S):\n    return np.argmax(S)\n"},
        fails=("test_predict_classes",),
    ),
    Mistake(
        name="accuracy as a count instead of a fraction",
        cells={"accuracy": "def accuracy(y_true, y_pred):\n    return np.sum(y_true == y_pred)\n"},
        fails=("test_accuracy",),
    ),
    Mistake(
        name="error rate instead of accuracy",
        cells={"accuracy": "def accuracy(y_true, y_pred):\n    return np.mean(y_true != y_pred)\n"},
        fails=("test_accuracy",),
    ),
    Mistake(
        name="swapped with recall",
        cells={"precision": (
            "def precision(y_true, y_pred):\n"
            "    tp = np.sum((y_true == 1) & (y_pred == 1))\n"
            "    fn = np.sum((y_true == 1) & (y_pred == 0))\n"
            "    return tp / (tp + fn) if tp + fn else 0.0\n"
        )},
        fails=("test_precision",),
    ),
    Mistake(
        name="no predicted positives",
        cells={"precision": (
            "def precision(y_true, y_pred):\n"
            "    tp = np.sum((y_true == 1) & (y_pred == 1))\n"
            "    fp = np.sum((y_true == 0) & (y_pred == 1))\n"
            "    return tp / (tp + fp)\n"
        )},
        fails=("test_precision",),
    ),
    Mistake(
        name="precision divides by the number of examples",
        cells={"precision": (
            "def precision(y_true, y_pred):\n"
            "    return np.sum((y_true == 1) & (y_pred == 1)) / len(y_true)\n"
        )},
        fails=("test_precision",),
    ),
    Mistake(
        name="accuracy instead of precision",
        cells={"precision": "def precision(y_true, y_pred):\n    return np.mean(y_true == y_pred)\n"},
        fails=("test_precision",),
    ),
    Mistake(
        name="recall swapped with precision",
        cells={"recall": (
            "def recall(y_true, y_pred):\n"
            "    tp = np.sum((y_true == 1) & (y_pred == 1))\n"
            "    fp = np.sum((y_true == 0) & (y_pred == 1))\n"
            "    return tp / (tp + fp) if tp + fp else 0.0\n"
        )},
        fails=("test_recall",),
    ),
    Mistake(
        name="no actual positives (recall gives nan)",
        cells={"recall": (
            "def recall(y_true, y_pred):\n"
            "    tp = np.sum((y_true == 1) & (y_pred == 1))\n"
            "    return tp / np.sum(y_true == 1)\n"
        )},
        fails=("test_recall",),
    ),
    Mistake(
        name="squared correlation",
        cells={"r2_score": (
            "def r2_score(y_true, y_pred):\n"
            "    return np.corrcoef(y_true, y_pred)[0, 1] ** 2\n"
        )},
        fails=("test_r2_score",),
    ),
    Mistake(
        name="SS_tot around mean(ŷ)",
        cells={"r2_score": (
            "def r2_score(y_true, y_pred):\n"
            "    ss_res = np.sum((y_true - y_pred) ** 2)\n"
            "    ss_tot = np.sum((y_true - np.mean(y_pred)) ** 2)\n"
            "    return 1 - ss_res / ss_tot\n"
        )},
        fails=("test_r2_score",),
    ),
    Mistake(
        name="forgets the 1 -",
        cells={"r2_score": (
            "def r2_score(y_true, y_pred):\n"
            "    return np.sum((y_true - y_pred) ** 2) / np.sum((y_true - np.mean(y_true)) ** 2)\n"
        )},
        fails=("test_r2_score",),
    ),
    Mistake(
        name="SS_tot computed from the predictions",
        cells={"r2_score": (
            "def r2_score(y_true, y_pred):\n"
            "    ss_res = np.sum((y_true - y_pred) ** 2)\n"
            "    ss_tot = np.sum((y_pred - np.mean(y_pred)) ** 2)\n"
            "    return 1 - ss_res / ss_tot\n"
        )},
        fails=("test_r2_score",),
    ),
    Mistake(
        name="no predicted positives (a raw ZeroDivisionError with Python ints)",
        cells={"precision": (
            "def precision(y_true, y_pred):\n"
            "    tp = sum(1 for t, p in zip(y_true, y_pred) if t == 1 and p == 1)\n"
            "    fp = sum(1 for t, p in zip(y_true, y_pred) if t == 0 and p == 1)\n"
            "    return tp / (tp + fp)\n"
        )},
        fails=("test_precision",),
    ),
    # Code that cannot run earns nothing, even where a hidden test swaps in a reference helper.
    Mistake(
        name="precision and recall that only call each other",
        cells={
            "precision": "def precision(y_true, y_pred):\n    return recall(y_pred, y_true)\n",
            "recall": "def recall(y_true, y_pred):\n    return precision(y_pred, y_true)\n",
        },
        fails=("test_precision", "test_recall"),
    ),
    # Values the lecture does not use (issue 21)
    Mistake(
        name="MSE: ½·MSE",
        cells={MSE: "def mean_squared_error(y_true, y_pred):\n"
                    "    return 0.5 * np.mean((y_true - y_pred) ** 2)\n"},
        fails=(f"test_{MSE}",),
        says="½·MSE",
    ),
    Mistake(
        name="accuracy in percent",
        cells={"accuracy": "def accuracy(y_true, y_pred):\n    return 100 * np.mean(y_true == y_pred)\n"},
        fails=("test_accuracy",),
        says="a percentage",
    ),
    Mistake(
        name="accuracy with floor division //",
        cells={"accuracy": "def accuracy(y_true, y_pred):\n"
                           "    return np.sum(y_true == y_pred) // len(y_true)\n"},
        fails=("test_accuracy",),
        says="floor division // instead of /",
    ),
    Mistake(
        name="precision 0 / 0 taken as 1.0",
        cells={"precision": """def precision(y_true, y_pred):
    predicted = np.sum(y_pred == 1)
    if predicted == 0:
        return 1.0
    return np.sum((y_true == 1) & (y_pred == 1)) / predicted
"""},
        fails=("test_precision",),
        says="not 1.0",
    ),
]
