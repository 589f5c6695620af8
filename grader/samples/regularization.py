"""Samples for 04_regularization: alternative correct solutions and typical mistakes."""

from grader.samples import Mistake

NOTEBOOK = "04_regularization"

ALTERNATIVES = {
    "explicit loops over the flattened entries, Python floats": {
        "l1_penalty": (
            "def l1_penalty(theta):\n"
            "    total = 0.0\n"
            "    for value in np.ravel(theta):\n"
            "        total += abs(float(value))\n"
            "    return total\n"
        ),
        "l2_penalty": (
            "def l2_penalty(theta):\n"
            "    total = 0.0\n"
            "    for value in np.asarray(theta).flat:\n"
            "        total = total + float(value) * float(value)\n"
            "    return total\n"
        ),
        "regularized_cost": (
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    reg = float(penalty(theta))\n"
            "    cost = float(data_loss) + float(alpha) * reg\n"
            "    return cost\n"
        ),
    },
    "np.linalg.norm on the flattened array, float32 arithmetic, 0-d arrays, a helper and prints": {
        "l1_penalty": (
            "def l1_penalty(theta):\n"
            "    flat = np.asarray(theta, dtype=np.float32).reshape(-1)\n"
            "    return np.array(np.linalg.norm(flat, 1))  # a vector: here ord=1 is the L1 norm\n"
        ),
        "l2_penalty": (
            "def l2_penalty(theta):\n"
            "    # ord=None is the Frobenius norm for any shape: square it\n"
            "    norm = np.linalg.norm(np.asarray(theta, dtype=np.float32))\n"
            "    print('norm', norm)\n"
            "    return np.array(norm ** 2)\n"
        ),
        "regularized_cost": (
            "def _weighted(alpha, value):\n"
            "    return np.float32(alpha) * np.float32(value)\n"
            "\n"
            "\n"
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    reg = _weighted(alpha, penalty(theta))\n"
            "    print('data loss', data_loss, 'regularization', reg)\n"
            "    return np.array(data_loss + reg)\n"
        ),
    },
    "dot products, a warning and a plot of its own": {
        "l1_penalty": (
            "def l1_penalty(theta):\n"
            "    flat = np.asarray(theta).ravel()\n"
            "    return flat @ np.sign(flat)  # sign(w) * w = |w|\n"
        ),
        "l2_penalty": (
            "def l2_penalty(theta):\n"
            "    flat = np.asarray(theta).ravel()\n"
            "    return np.dot(flat, flat)\n"
        ),
        "regularized_cost": (
            "import warnings\n"
            "\n"
            "\n"
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    if alpha == 0:\n"
            "        warnings.warn('alpha = 0: no regularization')\n"
            "    parts = [data_loss, alpha * penalty(theta)]\n"
            "    fig, ax = plt.subplots(figsize=(3, 2))\n"
            "    ax.bar(['data loss', 'penalty'], [float(p) for p in parts])\n"
            "    plt.close(fig)\n"
            "    return sum(parts)\n"
        ),
    },
}

MISTAKES = [
    Mistake(
        name="no abs",
        cells={"l1_penalty": "def l1_penalty(theta):\n    return np.sum(theta)\n"},
        fails=("test_l1_penalty",),
    ),
    Mistake(
        name="norm instead of squared norm",
        cells={"l2_penalty": "def l2_penalty(theta):\n    return np.linalg.norm(theta)\n"},
        fails=("test_l2_penalty",),
    ),
    Mistake(
        name="θ*2 instead of θ**2",
        cells={"l2_penalty": "def l2_penalty(theta):\n    return np.sum(theta * 2)\n"},
        fails=("test_l2_penalty",),
    ),
    Mistake(
        name="np.linalg.norm(W, 1) on a matrix (induced norm)",
        cells={"l1_penalty": "def l1_penalty(theta):\n    return np.linalg.norm(theta, 1)\n"},
        fails=("test_l1_penalty",),
    ),
    Mistake(
        name="np.linalg.norm(W, 2)**2 on a matrix (spectral)",
        cells={"l2_penalty": "def l2_penalty(theta):\n    return np.linalg.norm(theta, 2) ** 2\n"},
        fails=("test_l2_penalty",),
    ),
    Mistake(
        name="abs of the sum instead of the sum of abs",
        cells={"l1_penalty": "def l1_penalty(theta):\n    return np.abs(np.sum(theta))\n"},
        fails=("test_l1_penalty",),
    ),
    Mistake(
        name="L1 summed over one axis only",
        cells={"l1_penalty": "def l1_penalty(theta):\n    return np.sum(np.abs(theta), axis=0)\n"},
        fails=("test_l1_penalty",),
    ),
    Mistake(
        name="square of the sum instead of the sum of squares",
        cells={"l2_penalty": "def l2_penalty(theta):\n    return np.sum(theta) ** 2\n"},
        fails=("test_l2_penalty",),
    ),
    Mistake(
        name="alpha multiplies the data loss instead of the penalty",
        cells={"regularized_cost": (
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    return alpha * data_loss + penalty(theta)\n"
        )},
        fails=("test_regularized_cost",),
    ),
    Mistake(
        name="calls l2_penalty instead of the given penalty",
        cells={"regularized_cost": (
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    return data_loss + alpha * l2_penalty(theta)\n"
        )},
        fails=("test_regularized_cost",),
    ),
    Mistake(
        name="forgets alpha",
        cells={"regularized_cost": (
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    return data_loss + penalty(theta)\n"
        )},
        fails=("test_regularized_cost",),
    ),
    Mistake(
        name="alpha inside the penalty",
        cells={"regularized_cost": (
            "def regularized_cost(data_loss, theta, alpha, penalty):\n"
            "    return data_loss + penalty(alpha * theta)\n"
        )},
        fails=("test_regularized_cost",),
    ),
    # Beginners' code that ends in a Python or numpy error (issue 21)
    Mistake(
        name="θ^2 instead of θ**2",
        cells={"l2_penalty": "def l2_penalty(theta):\n    return np.sum(theta ^ 2)\n"},
        fails=("test_l2_penalty",),
        says="^ is not a power in Python",
    ),
]
