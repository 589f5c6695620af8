"""Samples for 05_binary_cross_entropy: alternative correct solutions and typical mistakes."""

from grader.samples import Mistake

NOTEBOOK = "05_binary_cross_entropy"

ALTERNATIVES = {
    "explicit loop, math module, Python float, eps = 1e-15": {
        "binary_cross_entropy": '''import math


def binary_cross_entropy(h, y):
    """Mean cost, one example at a time."""
    eps = 1e-15
    total = 0.0
    count = 0
    for h_i, y_i in zip(np.ravel(h), np.ravel(y)):
        h_i = min(max(float(h_i), eps), 1.0 - eps)
        if y_i == 1:
            total += -math.log(h_i)
        else:
            total += -math.log(1.0 - h_i)
        count += 1
    return total / count
''',
    },
    "float32 arithmetic, np.where branches, eps = 1e-7, a 0-d array, prints": {
        "binary_cross_entropy": '''def binary_cross_entropy(h, y):
    """Mean cost in float32, choosing the branch with np.where."""
    eps = np.float32(1e-7)
    h = np.clip(np.asarray(h, dtype=np.float32), eps, np.float32(1) - eps)
    y = np.asarray(y)
    cost = np.where(y == 1, -np.log(h), -np.log(np.float32(1) - h))
    m = h.size
    print("m =", m)
    return np.asarray(cost.sum() / np.float32(m))
''',
    },
    "log(h + eps) with a helper, a numpy scalar, a warning of its own": {
        "binary_cross_entropy": '''import warnings


def _safe_log(x, eps=1e-10):
    return np.log(x + eps)


def binary_cross_entropy(h, y):
    """-1/m sum of y log h + (1 - y) log(1 - h), with eps added inside the logs."""
    h = np.asarray(h, dtype=float).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if np.any((h == 0) | (h == 1)):
        warnings.warn("some predictions are exactly 0 or 1", UserWarning)
    m = h.shape[0]
    return -np.sum(y * _safe_log(h) + (1 - y) * _safe_log(1 - h)) / m
''',
    },
    "sum over the last axis, Python loop over examples skipped by masks": {
        "binary_cross_entropy": '''def binary_cross_entropy(h, y):
    """Masks for the two cases, clip with 1e-9."""
    h = np.clip(np.atleast_2d(np.asarray(h, dtype=np.float64)), 1e-9, 1 - 1e-9)
    y = np.atleast_2d(y)
    positive = y == 1
    total = -np.log(h[positive]).sum() - np.log(1 - h[~positive]).sum()
    return total / h.shape[-1]
''',
    },
}


def _mistake(name: str, code: str) -> Mistake:
    return Mistake(name=name, cells={"binary_cross_entropy": code}, fails=("test_binary_cross_entropy",))


MISTAKES = [
    # FACTS.md
    _mistake(
        "y instead of (1 - y)",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-12, 1 - 1e-12)
    return np.mean(-(y * np.log(h) + y * np.log(1 - h)))
""",
    ),
    _mistake(
        "missing minus sign",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-12, 1 - 1e-12)
    return np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
""",
    ),
    _mistake(
        "m taken from the wrong axis of a (1, m) array",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-12, 1 - 1e-12)
    m = h.shape[0]
    return -np.sum(y * np.log(h) + (1 - y) * np.log(1 - h)) / m
""",
    ),
    _mistake(
        "no clipping: 0·log 0",
        """def binary_cross_entropy(h, y):
    return -np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
""",
    ),
    # more
    _mistake(
        "sum instead of mean",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-12, 1 - 1e-12)
    return -np.sum(y * np.log(h) + (1 - y) * np.log(1 - h))
""",
    ),
    _mistake(
        "log10 instead of ln",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-12, 1 - 1e-12)
    return -np.mean(y * np.log10(h) + (1 - y) * np.log10(1 - h))
""",
    ),
    _mistake(
        "clips only inside log(h), not inside log(1 - h)",
        """def binary_cross_entropy(h, y):
    return -np.mean(y * np.log(np.clip(h, 1e-12, 1)) + (1 - y) * np.log(1 - h))
""",
    ),
    _mistake(
        "0·log 0 taken as 0 with np.where, but an exactly wrong prediction costs inf",
        """def binary_cross_entropy(h, y):
    cost = np.where(y == 1, -np.log(h), -np.log(1 - h))
    return np.mean(cost)
""",
    ),
    _mistake(
        "clipping eps far too large (1e-3)",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-3, 1 - 1e-3)
    return -np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
""",
    ),
    _mistake(
        "returns the cost of every example instead of the mean",
        """def binary_cross_entropy(h, y):
    h = np.clip(h, 1e-12, 1 - 1e-12)
    return -(y * np.log(h) + (1 - y) * np.log(1 - h))
""",
    ),
    # A clipping that does not clip (issue 21)
    Mistake(
        name="eps = 1e-20: clipped, but 1 - 1e-20 == 1.0",
        cells={"binary_cross_entropy": """def binary_cross_entropy(h, y):
    eps = 1e-20
    h = np.clip(h, eps, 1 - eps)
    return -np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
"""},
        fails=("test_binary_cross_entropy",),
        says="1 - 1e-20 == 1.0",
    ),
]
