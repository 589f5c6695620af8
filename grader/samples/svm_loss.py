"""Samples for 02_svm_loss: alternative correct solutions and the typical mistakes of FACTS.md."""

from grader.samples import Mistake

NOTEBOOK = "02_svm_loss"

_LOOPS_SINGLE = '''def svm_loss_single(s, y):
    """Multiclass SVM loss of one example, with explicit loops and Python floats."""
    correct = float(s[y])
    total = 0.0
    for j in range(len(s)):
        if j == y:
            continue
        total += max(0.0, float(s[j]) - correct + 1.0)
    return total
'''

_LOOPS_LOSSES = '''def svm_losses(S, y):
    """One loss per column, reusing svm_loss_single."""
    K, N = S.shape
    losses = []
    for i in range(N):
        losses.append(svm_loss_single(S[:, i], y[i]))
    return np.array(losses)
'''

ALTERNATIVES = {
    "explicit loops, Python floats": {
        "svm_loss_single": _LOOPS_SINGLE,
        "svm_losses": _LOOPS_LOSSES,
        "svm_loss": '''def svm_loss(S, y):
    """Mean of the per-example losses, as a Python float."""
    losses = svm_losses(S, y)
    total = 0.0
    for loss in losses:
        total += float(loss)
    return total / len(losses)
''',
    },
    "vectorized without helpers, float32 arithmetic, 0-d arrays, prints": {
        "svm_loss_single": '''def svm_loss_single(s, y):
    s = np.asarray(s, dtype=np.float32)
    others = np.delete(s, y)
    hinge = np.clip(others - s[y] + np.float32(1), 0, None)
    print("hinges of the wrong classes:", hinge)
    return np.array(hinge.sum())
''',
        "svm_losses": '''def svm_losses(S, y):
    S = np.asarray(S, dtype=np.float32)
    K, N = S.shape
    is_true = np.zeros((K, N), dtype=bool)
    is_true[y, np.arange(N)] = True
    correct = np.sum(np.where(is_true, S, 0), axis=0, keepdims=True)
    hinge = np.where(is_true, 0, np.maximum(0, S - correct + 1))
    print("hinge matrix:\\n", hinge)
    return hinge.sum(axis=0)
''',
        "svm_loss": '''def svm_loss(S, y):
    N = S.shape[1]
    correct = S[y, range(N)]
    hinge = np.maximum(0, S - correct + 1)
    # every column contains its own true class once, with hinge exactly 1: take it off
    return np.array((hinge.sum() - N) / N, dtype=np.float32)
''',
    },
    "helper functions, a plot and a warning of their own": {
        "svm_loss_single": '''import warnings


def hinge(x):
    return np.maximum(0.0, x)


def svm_loss_single(s, y):
    if len(s) < 2:
        warnings.warn("only one class: the loss is 0")
    terms = [hinge(s_j - s[y] + 1) for j, s_j in enumerate(s) if j != y]
    return sum(terms)
''',
        "svm_losses": '''def true_scores(S, y):
    return np.array([S[y_i, i] for i, y_i in enumerate(y)])


def svm_losses(S, y):
    margins = S - true_scores(S, y)[np.newaxis, :] + 1
    margins[y, np.arange(S.shape[1])] = 0
    return np.sum(np.maximum(margins, 0), axis=0)
''',
        "svm_loss": '''import matplotlib.pyplot as plt


def svm_loss(S, y):
    losses = svm_losses(S, y)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(range(len(losses)), losses)
    plt.close(fig)
    return np.average(losses)
''',
    },
}

MISTAKES = [
    # --- svm_loss_single ---
    Mistake(
        name="includes the j = y_i term",
        cells={"svm_loss_single": '''def svm_loss_single(s, y):
    return np.sum(np.maximum(0, s - s[y] + 1))
'''},
        fails=("test_svm_loss_single",),
    ),
    Mistake(
        name="no margin (Δ = 0)",
        cells={"svm_loss_single": '''def svm_loss_single(s, y):
    margins = np.maximum(0, s - s[y])
    margins[y] = 0
    return np.sum(margins)
'''},
        fails=("test_svm_loss_single",),
    ),
    Mistake(
        name="forgets max(0, ·)",
        cells={"svm_loss_single": '''def svm_loss_single(s, y):
    margins = s - s[y] + 1
    margins[y] = 0
    return np.sum(margins)
'''},
        fails=("test_svm_loss_single",),
    ),
    Mistake(
        name="max over j instead of sum",
        cells={"svm_loss_single": '''def svm_loss_single(s, y):
    margins = np.maximum(0, s - s[y] + 1)
    margins[y] = 0
    return np.max(margins)
'''},
        fails=("test_svm_loss_single",),
    ),
    Mistake(
        name="subtracts the wrong way round (s_{y_i} - s_j + 1)",
        cells={"svm_loss_single": '''def svm_loss_single(s, y):
    margins = np.maximum(0, s[y] - s + 1)
    margins[y] = 0
    return np.sum(margins)
'''},
        fails=("test_svm_loss_single",),
    ),
    Mistake(
        name="adds the margin outside the max: max(0, s_j - s_{y_i}) + 1",
        cells={"svm_loss_single": '''def svm_loss_single(s, y):
    total = 0
    for j in range(len(s)):
        if j != y:
            total += np.max([0, s[j] - s[y]]) + 1
    return total
'''},
        fails=("test_svm_loss_single",),
    ),
    # A wrong svm_loss_single must not cost the points of an svm_losses that calls it.
    Mistake(
        name="includes the j = y_i term (svm_losses loops over it)",
        cells={
            "svm_loss_single": '''def svm_loss_single(s, y):
    total = 0.0
    for j in range(len(s)):
        total += max(0.0, s[j] - s[y] + 1)
    return total
''',
            "svm_losses": _LOOPS_LOSSES,
        },
        fails=("test_svm_loss_single",),
    ),
    Mistake(
        name="max over j instead of sum (svm_losses loops over it)",
        cells={
            "svm_loss_single": '''def svm_loss_single(s, y):
    return max(max(0.0, s[j] - s[y] + 1) for j in range(len(s)) if j != y)
''',
            "svm_losses": _LOOPS_LOSSES,
        },
        fails=("test_svm_loss_single",),
    ),
    # --- svm_losses ---
    Mistake(
        name="rows taken as examples",
        cells={"svm_losses": '''def svm_losses(S, y):
    losses = []
    for i in range(len(y)):
        losses.append(svm_loss_single(S[i], y[i]))
    return np.array(losses)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="rows taken as examples (vectorized)",
        cells={"svm_losses": '''def svm_losses(S, y):
    K = S.shape[0]
    rows = np.arange(K)
    margins = np.maximum(0, S - S[rows, y][:, np.newaxis] + 1)
    margins[rows, y] = 0
    return margins.sum(axis=1)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="masks with M[y, :] = 0",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)] + 1)
    M[y, :] = 0
    return M.sum(axis=0)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="includes the j = y_i term (vectorized svm_losses)",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)] + 1)
    return M.sum(axis=0)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="no margin (Δ = 0) (vectorized svm_losses)",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)])
    M[y, np.arange(N)] = 0
    return M.sum(axis=0)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="forgets max(0, ·) (vectorized svm_losses)",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = S - S[y, np.arange(N)] + 1
    M[y, np.arange(N)] = 0
    return M.sum(axis=0)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="max over j instead of sum (vectorized svm_losses)",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)] + 1)
    M[y, np.arange(N)] = 0
    return M.max(axis=0)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="true-class scores picked as S[arange(N), y] (row and column swapped)",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[np.arange(N), y] + 1)
    M[y, np.arange(N)] = 0
    return M.sum(axis=0)
'''},
        fails=("test_svm_losses",),
    ),
    Mistake(
        name="sums over the wrong axis (axis=1)",
        cells={"svm_losses": '''def svm_losses(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)] + 1)
    M[y, np.arange(N)] = 0
    return M.sum(axis=1)
'''},
        fails=("test_svm_losses",),
    ),
    # --- svm_loss ---
    Mistake(
        name="mean over all K·N entries",
        cells={"svm_loss": '''def svm_loss(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)] + 1)
    M[y, np.arange(N)] = 0
    return np.mean(M)
'''},
        fails=("test_svm_loss",),
    ),
    Mistake(
        name="divides by K instead of N",
        cells={"svm_loss": '''def svm_loss(S, y):
    K = S.shape[0]
    return np.sum(svm_losses(S, y)) / K
'''},
        fails=("test_svm_loss",),
    ),
    Mistake(
        name="sum instead of mean",
        cells={"svm_loss": '''def svm_loss(S, y):
    return np.sum(svm_losses(S, y))
'''},
        fails=("test_svm_loss",),
    ),
    Mistake(
        name="includes the j = y_i term (in svm_loss)",
        cells={"svm_loss": '''def svm_loss(S, y):
    N = S.shape[1]
    M = np.maximum(0, S - S[y, np.arange(N)] + 1)
    return np.sum(M) / N
'''},
        fails=("test_svm_loss",),
    ),
    # Code that cannot run earns nothing, even where a hidden test swaps in a reference helper.
    Mistake(
        name="svm_losses and svm_loss_single that call each other",
        cells={
            "svm_loss_single": '''def svm_loss_single(s, y):
    return svm_losses(s[:, None], np.array([y]))[0]
''',
            "svm_losses": '''def svm_losses(S, y):
    return np.array([svm_loss_single(S[:, i], y[i]) for i in range(S.shape[1])])
''',
        },
        fails=("test_svm_loss_single", "test_svm_losses"),
    ),
    # Beginners' code that ends in a Python or numpy error, or in a value the lecture does not use (issue 21)
    Mistake(
        name="np.max(0, v) instead of np.maximum(0, v)",
        cells={"svm_loss_single": """def svm_loss_single(s, y):
    margins = np.max(0, s - s[y] + 1)
    margins[y] = 0
    return np.sum(margins)
"""},
        fails=("test_svm_loss_single",),
        says="Write np.maximum(0, v)",
    ),
    Mistake(
        name="Python's max(0, v) on an array",
        cells={"svm_loss_single": """def svm_loss_single(s, y):
    return sum(max(0, s - s[y] + 1)) - 1
"""},
        fails=("test_svm_loss_single",),
        says="Python's max(0, v)",
    ),
    Mistake(
        name="S[y] instead of S[y, np.arange(N)]",
        cells={"svm_losses": """def svm_losses(S, y):
    N = S.shape[1]
    margins = np.maximum(0, S - S[y] + 1)
    margins[y, np.arange(N)] = 0
    return np.sum(margins, axis=0)
"""},
        fails=("test_svm_losses",),
        says="S[y] (whole rows of S) instead of S[y, np.arange(N)]",
    ),
    Mistake(
        name="a (1, N) row instead of a flat array",
        cells={"svm_losses": """def svm_losses(S, y):
    N = S.shape[1]
    margins = np.maximum(0, S - S[y, np.arange(N)] + 1)
    margins[y, np.arange(N)] = 0
    return np.sum(margins, axis=0, keepdims=True)
"""},
        fails=("test_svm_losses",),
        says="the numbers are right, but in an array of shape (1, 3) instead of (3,)",
    ),
    Mistake(
        name="floor division // for the mean",
        cells={"svm_loss": "def svm_loss(S, y):\n    return np.sum(svm_losses(S, y)) // S.shape[1]\n"},
        fails=("test_svm_loss",),
        says="floor division // instead of /",
    ),
    Mistake(
        name="rounded to the slide's 5.27",
        cells={"svm_loss": "def svm_loss(S, y):\n    return round(float(np.mean(svm_losses(S, y))), 2)\n"},
        fails=("test_svm_loss",),
        says="rounded like the slide",
    ),
]
