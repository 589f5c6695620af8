"""Samples for 03_softmax_cross_entropy: alternative correct solutions and typical mistakes (FACTS.md)."""

from grader.samples import Mistake

NOTEBOOK = "03_softmax_cross_entropy"

ALTERNATIVES = {
    "explicit loops with the math module, Python floats": {
        "softmax": '''import math


def softmax(S):
    """Column by column, entry by entry."""
    K, N = S.shape
    P = np.zeros((K, N))
    for i in range(N):
        column = [float(S[k, i]) for k in range(K)]
        biggest = max(column)
        exps = [math.exp(v - biggest) for v in column]
        total = sum(exps)
        for k in range(K):
            P[k, i] = exps[k] / total
    return P
''',
        "cross_entropy_losses": '''import math


def cross_entropy_losses(S, y):
    losses = []
    for i in range(S.shape[1]):
        column = [float(v) for v in S[:, i]]
        biggest = max(column)
        log_sum_exp = biggest + math.log(sum(math.exp(v - biggest) for v in column))
        losses.append(log_sum_exp - column[int(y[i])])
    return losses
''',
        "cross_entropy_loss": '''def cross_entropy_loss(S, y):
    losses = cross_entropy_losses(S, y)
    return float(sum(losses)) / len(losses)
''',
    },
    "float32 arithmetic, log-softmax, 0-d arrays, prints": {
        "softmax": '''def softmax(S):
    S = np.asarray(S, dtype=np.float32)
    shifted = S - np.max(S, axis=0)
    e = np.exp(shifted)
    print("exponentials of the shifted scores:\\n", e)
    return e / np.sum(e, axis=0)
''',
        "cross_entropy_losses": '''def cross_entropy_losses(S, y):
    S = np.asarray(S, dtype=np.float32)
    N = S.shape[1]
    Z = S - S.max(axis=0, keepdims=True)
    log_probs = Z - np.log(np.sum(np.exp(Z), axis=0, keepdims=True))
    print("log-probabilities:\\n", log_probs)
    return -log_probs[y, np.arange(N)]
''',
        "cross_entropy_loss": '''def cross_entropy_loss(S, y):
    return np.array(np.mean(cross_entropy_losses(S, y), dtype=np.float32))
''',
    },
    "np.logaddexp helpers, a warning and a plot of their own": {
        "softmax": '''import warnings


def column_log_sum_exp(S):
    return np.logaddexp.reduce(S, axis=0, keepdims=True)


def softmax(S):
    if np.max(np.abs(S)) > 500:
        warnings.warn("very large scores; shifting keeps exp finite")
    return np.exp(S - column_log_sum_exp(S))
''',
        "cross_entropy_losses": '''def log_softmax(S):
    return S - np.logaddexp.reduce(S, axis=0)


def cross_entropy_losses(S, y):
    log_p = log_softmax(S)
    return np.array([-log_p[y_i, i] for i, y_i in enumerate(y)])
''',
        "cross_entropy_loss": '''import matplotlib.pyplot as plt


def cross_entropy_loss(S, y):
    losses = cross_entropy_losses(S, y)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(np.arange(len(losses)), losses)
    plt.close(fig)
    return losses.sum() / S.shape[1]
''',
    },
}

MISTAKES = [
    # --- softmax ---
    Mistake(
        name="no max-subtraction",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S)
    return exps / np.sum(exps, axis=0, keepdims=True)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="one global max instead of per column",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.max(S))
    return exps / np.sum(exps, axis=0, keepdims=True)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="normalizes along rows or the whole matrix",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.max(S, axis=1, keepdims=True))
    return exps / np.sum(exps, axis=1, keepdims=True)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="normalizes along rows or the whole matrix (whole matrix)",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.max(S))
    return exps / np.sum(exps)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="subtracts the max of each row instead of each column",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.max(S, axis=1, keepdims=True))
    return exps / np.sum(exps, axis=0, keepdims=True)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="row sums without keepdims (divides column i by the sum of row i)",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.max(S, axis=0))
    return exps / np.sum(exps, axis=1)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="the max of each column subtracted, but divided by the sum of the whole matrix",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.max(S, axis=0, keepdims=True))
    return exps / np.sum(exps)
'''},
        fails=("test_softmax",),
    ),
    Mistake(
        name="subtracts the minimum of each column instead of its maximum",
        cells={"softmax": '''def softmax(S):
    exps = np.exp(S - np.min(S, axis=0, keepdims=True))
    return exps / np.sum(exps, axis=0, keepdims=True)
'''},
        fails=("test_softmax",),
    ),
    # --- cross_entropy_losses ---
    Mistake(
        name="softmax then log",
        cells={"cross_entropy_losses": '''def cross_entropy_losses(S, y):
    P = softmax(S)
    return -np.log(P[y, np.arange(S.shape[1])])
'''},
        fails=("test_cross_entropy_losses",),
    ),
    Mistake(
        name="log10 instead of ln",
        cells={"cross_entropy_losses": '''def cross_entropy_losses(S, y):
    P = softmax(S)
    return -np.log10(P[y, np.arange(S.shape[1])])
'''},
        fails=("test_cross_entropy_losses",),
    ),
    Mistake(
        name="softmax then log (loop with math.log and a guard against log(0))",
        cells={"cross_entropy_losses": '''import math


def cross_entropy_losses(S, y):
    P = softmax(S)
    return np.array([-math.log(max(P[y[i], i], 1e-300)) for i in range(S.shape[1])])
'''},
        fails=("test_cross_entropy_losses",),
    ),
    Mistake(
        name="log-sum-exp without subtracting the maximum",
        cells={"cross_entropy_losses": '''def cross_entropy_losses(S, y):
    N = S.shape[1]
    return np.log(np.sum(np.exp(S), axis=0)) - S[y, np.arange(N)]
'''},
        fails=("test_cross_entropy_losses",),
    ),
    Mistake(
        name="true-class scores picked as S[arange(N), y] (row and column swapped)",
        cells={"cross_entropy_losses": '''def cross_entropy_losses(S, y):
    N = S.shape[1]
    m = np.max(S, axis=0)
    return m + np.log(np.sum(np.exp(S - m), axis=0)) - S[np.arange(N), y]
'''},
        fails=("test_cross_entropy_losses",),
    ),
    Mistake(
        name="forgets the minus sign",
        cells={"cross_entropy_losses": '''def cross_entropy_losses(S, y):
    N = S.shape[1]
    m = np.max(S, axis=0)
    return S[y, np.arange(N)] - (m + np.log(np.sum(np.exp(S - m), axis=0)))
'''},
        fails=("test_cross_entropy_losses",),
    ),
    # --- cross_entropy_loss ---
    Mistake(
        name="sum instead of mean",
        cells={"cross_entropy_loss": '''def cross_entropy_loss(S, y):
    return np.sum(cross_entropy_losses(S, y))
'''},
        fails=("test_cross_entropy_loss",),
    ),
    Mistake(
        name="one-hot mean over K·N",
        cells={"cross_entropy_loss": '''def cross_entropy_loss(S, y):
    K, N = S.shape
    Y = np.zeros((K, N))
    Y[y, np.arange(N)] = 1
    return -np.mean(Y * np.log(softmax(S)))
'''},
        fails=("test_cross_entropy_loss",),
    ),
    Mistake(
        name="divides by K instead of N",
        cells={"cross_entropy_loss": '''def cross_entropy_loss(S, y):
    return np.sum(cross_entropy_losses(S, y)) / S.shape[0]
'''},
        fails=("test_cross_entropy_loss",),
    ),
    Mistake(
        name="log10 instead of ln (in cross_entropy_loss)",
        cells={"cross_entropy_loss": '''def cross_entropy_loss(S, y):
    P = softmax(S)
    return np.mean(-np.log10(P[y, np.arange(S.shape[1])]))
'''},
        fails=("test_cross_entropy_loss",),
    ),
    Mistake(
        name="softmax then log (in cross_entropy_loss)",
        cells={"cross_entropy_loss": '''def cross_entropy_loss(S, y):
    P = softmax(S)
    return np.mean(-np.log(P[y, np.arange(S.shape[1])]))
'''},
        fails=("test_cross_entropy_loss",),
    ),
    # softmax then log with a guard that is not 1e-300 (issue 21)
    Mistake(
        name="softmax then log(P + 1e-12)",
        cells={"cross_entropy_losses": """def cross_entropy_losses(S, y):
    P = softmax(S)
    return -np.log(P[y, np.arange(S.shape[1])] + 1e-12)
"""},
        fails=("test_cross_entropy_losses",),
        says="softmax then log, with a small eps against log(0)",
    ),
    Mistake(
        name="softmax then log of np.clip(P, 1e-15, 1)",
        cells={"cross_entropy_losses": """def cross_entropy_losses(S, y):
    P = np.clip(softmax(S), 1e-15, 1)
    return -np.log(P[y, np.arange(S.shape[1])])
"""},
        fails=("test_cross_entropy_losses",),
        says="softmax then log, with a small eps against log(0)",
    ),
]
