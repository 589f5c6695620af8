"""Samples for 01_forward_propagation: alternative correct solutions and typical mistakes."""

from grader.samples import Mistake

NOTEBOOK = "01_forward_propagation"

ALTERNATIVES = {
    "explicit loops, math module, Python floats": {
        "answer_weight_shape": (
            "n_inputs = 25 * 25\nn_hidden = 16\nanswer_weight_shape = (n_hidden, n_inputs)"
        ),
        "answer_n_biases": "answer_n_biases = 16  # one per hidden neuron",
        "answer_n_parameters": (
            "n_in, n_h, n_out = 625, 16, 1\nanswer_n_parameters = n_h * n_in + n_h + n_out * n_h + n_out"
        ),
        "answer_can_infer_100x100": "answer_can_infer_100x100 = 25 * 25 == 100 * 100",
        "sigmoid": '''import math


def _sigmoid_one(t):
    t = float(t)
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)


def sigmoid(z):
    """Elementwise sigmoid, one Python float at a time."""
    if np.ndim(z) == 0:
        return _sigmoid_one(z)
    z = np.asarray(z)
    s = np.empty(z.shape)
    for index in np.ndindex(z.shape):
        s[index] = _sigmoid_one(z[index])
    return s
''',
        "layer_forward": '''def layer_forward(W, b, X, activation):
    """activation(W · X + b), with three loops."""
    n_out, n_in = W.shape
    m = X.shape[1]
    bias = np.ravel(b)
    Z = np.zeros((n_out, m))
    for j in range(n_out):
        for i in range(m):
            total = float(bias[j])
            for k in range(n_in):
                total += float(W[j, k]) * float(X[k, i])
            Z[j, i] = total
    return activation(Z)
''',
        "forward_propagation": '''def forward_propagation(X, W1, b1, W2, b2):
    """Forward propagation, one example (column) at a time."""
    m = X.shape[1]
    z_a = np.zeros((W1.shape[0], m))
    z_p = np.zeros((W2.shape[0], m))
    for i in range(m):
        x = X[:, i:i + 1]
        z_a[:, i:i + 1] = W1 @ x + b1
        z_p[:, i:i + 1] = W2 @ sigmoid(z_a[:, i:i + 1]) + b2
    a = sigmoid(z_a)
    p = sigmoid(z_p)
    print("forward propagation of", m, "examples")
    return [p, dict(z_a=z_a, a=a, z_p=z_p)]
''',
    },
    "float32 arithmetic, tanh form, einsum, prints, a warning and a plot": {
        "answer_weight_shape": "answer_weight_shape = np.zeros((16, 25 * 25)).shape",
        "answer_n_biases": "answer_n_biases = np.int64(16)",
        "answer_n_parameters": (
            "sizes = [(16, 625), (16, 1), (1, 16), (1, 1)]\n"
            "answer_n_parameters = int(sum(np.prod(s) for s in sizes))\n"
            "print(answer_n_parameters)"
        ),
        "answer_can_infer_100x100": "answer_can_infer_100x100 = np.bool_(False)",
        "sigmoid": '''def sigmoid(z):
    """sigmoid(z) = (1 + tanh(z / 2)) / 2: tanh never overflows."""
    z = np.asarray(z, dtype=np.float32)
    return np.float32(0.5) * (np.float32(1) + np.tanh(z / np.float32(2)))
''',
        "layer_forward": '''import warnings


def layer_forward(W, b, X, activation):
    """One dense layer in float32 with einsum."""
    if np.asarray(X).dtype != np.float32:
        warnings.warn("layer_forward computes in float32", UserWarning)
    W32 = np.asarray(W, dtype=np.float32)
    X32 = np.asarray(X, dtype=np.float32)
    b32 = np.asarray(b, dtype=np.float32).reshape(W32.shape[0], 1)
    Z = np.einsum("jk,ki->ji", W32, X32) + b32
    print("layer output shape:", Z.shape)
    return activation(Z)
''',
        "forward_propagation": '''import matplotlib.pyplot as plt


def forward_propagation(X, W1, b1, W2, b2):
    """Both layers with layer_forward; plots the hidden activations."""
    a = layer_forward(W1, b1, X, sigmoid)
    z_a = layer_forward(W1, b1, X, np.positive)
    z_p = np.dot(W2, a) + b2
    p = sigmoid(z_p)
    fig = plt.figure(figsize=(3, 2))
    plt.hist(np.ravel(a), bins=10)
    plt.close(fig)
    cache = {}
    cache["z_a"], cache["a"], cache["z_p"] = z_a, a, z_p
    return (p, cache)
''',
    },
    "logaddexp, 0-d arrays, a helper function": {
        "answer_weight_shape": "answer_weight_shape = tuple([16, 625])",
        "answer_n_biases": "answer_n_biases = int(np.ones(16).sum())",
        "answer_n_parameters": "answer_n_parameters = (625 + 1) * 16 + (16 + 1) * 1",
        "answer_can_infer_100x100": "answer_can_infer_100x100 = not True",
        "sigmoid": '''def sigmoid(z):
    """sigmoid(z) = exp(-log(1 + e^(-z))), with np.logaddexp(0, -z) = log(e^0 + e^(-z))."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))
''',
        "layer_forward": '''def _as_column(b, n):
    b = np.array(b, dtype=float)
    return b if b.ndim == 2 else b[:, np.newaxis]


def layer_forward(W, b, X, activation):
    """np.dot plus a bias column."""
    return activation(np.dot(W, X) + _as_column(b, W.shape[0]))
''',
        "forward_propagation": '''def _dense(W, b, A):
    return W.dot(A) + b


def forward_propagation(X, W1, b1, W2, b2):
    """Forward propagation with a helper, without layer_forward."""
    cache = {"z_a": _dense(W1, b1, X)}
    cache["a"] = sigmoid(cache["z_a"])
    cache["z_p"] = _dense(W2, b2, cache["a"])
    return sigmoid(cache["z_p"]), cache
''',
    },
}


def _mistake(name: str, cell: str, code: str) -> Mistake:
    return Mistake(name=name, cells={cell: code}, fails=(f"test_{cell}",))


MISTAKES = [
    # sigmoid (FACTS.md)
    _mistake(
        "naive 1/(1+exp(-z))",
        "sigmoid",
        """def sigmoid(z):
    return 1 / (1 + np.exp(-z))
""",
    ),
    _mistake(
        "exp(z)/(1+exp(z))",
        "sigmoid",
        """def sigmoid(z):
    return np.exp(z) / (1 + np.exp(z))
""",
    ),
    _mistake(
        "sign error",
        "sigmoid",
        """def sigmoid(z):
    z = np.asarray(z)
    t = np.exp(-np.abs(z))
    return np.where(z >= 0, t / (1 + t), 1 / (1 + t))
""",
    ),
    # sigmoid (more)
    _mistake(
        "np.where computes both branches: overflow in the unused one",
        "sigmoid",
        """def sigmoid(z):
    z = np.asarray(z, dtype=float)
    return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))
""",
    ),
    _mistake(
        "boolean-mask version that fails on a number",
        "sigmoid",
        """def sigmoid(z):
    s = np.empty_like(z)
    pos = z >= 0
    s[pos] = 1 / (1 + np.exp(-z[pos]))
    s[~pos] = np.exp(z[~pos]) / (1 + np.exp(z[~pos]))
    return s
""",
    ),
    # layer_forward (FACTS.md)
    _mistake(
        "x·Θ instead of Θ·x",
        "layer_forward",
        """def layer_forward(W, b, X, activation):
    return activation((X.T @ W).T + np.reshape(b, (-1, 1)))
""",
    ),
    _mistake(
        "bias of shape (h,) broadcast over a batch",
        "layer_forward",
        """def layer_forward(W, b, X, activation):
    return activation(W @ X + b)
""",
    ),
    _mistake(
        "* instead of @",
        "layer_forward",
        """def layer_forward(W, b, X, activation):
    return activation(W * X + np.reshape(b, (-1, 1)))
""",
    ),
    # layer_forward (more)
    _mistake(
        "the activation is not applied",
        "layer_forward",
        """def layer_forward(W, b, X, activation):
    return W @ X + np.reshape(b, (-1, 1))
""",
    ),
    _mistake(
        "always sigmoid instead of the given activation",
        "layer_forward",
        """def layer_forward(W, b, X, activation):
    return sigmoid(W @ X + np.reshape(b, (-1, 1)))
""",
    ),
    _mistake(
        "the activation is applied before adding the bias",
        "layer_forward",
        """def layer_forward(W, b, X, activation):
    return activation(W @ X) + np.reshape(b, (-1, 1))
""",
    ),
    # forward_propagation (FACTS.md)
    _mistake(
        "no hidden activation",
        "forward_propagation",
        """def forward_propagation(X, W1, b1, W2, b2):
    z_a = W1 @ X + b1
    a = z_a
    z_p = W2 @ a + b2
    return sigmoid(z_p), {"z_a": z_a, "a": a, "z_p": z_p}
""",
    ),
    # forward_propagation (more)
    _mistake(
        "no output activation (p = z_p)",
        "forward_propagation",
        """def forward_propagation(X, W1, b1, W2, b2):
    z_a = W1 @ X + b1
    a = sigmoid(z_a)
    z_p = W2 @ a + b2
    return z_p, {"z_a": z_a, "a": a, "z_p": z_p}
""",
    ),
    _mistake(
        "the biases are ignored",
        "forward_propagation",
        """def forward_propagation(X, W1, b1, W2, b2):
    z_a = W1 @ X
    a = sigmoid(z_a)
    z_p = W2 @ a
    return sigmoid(z_p), {"z_a": z_a, "a": a, "z_p": z_p}
""",
    ),
    _mistake(
        "z_a and a swapped in the cache",
        "forward_propagation",
        """def forward_propagation(X, W1, b1, W2, b2):
    z_a = layer_forward(W1, b1, X, lambda z: z)
    a = sigmoid(z_a)
    z_p = layer_forward(W2, b2, a, lambda z: z)
    return sigmoid(z_p), {"z_a": a, "a": z_a, "z_p": z_p}
""",
    ),
    _mistake(
        "returns only p, without the cache",
        "forward_propagation",
        """def forward_propagation(X, W1, b1, W2, b2):
    a = layer_forward(W1, b1, X, sigmoid)
    return layer_forward(W2, b2, a, sigmoid)
""",
    ),
    # the questions
    _mistake("transposed weight shape (625, 16)", "answer_weight_shape", "answer_weight_shape = (625, 16)"),
    _mistake("one bias per input", "answer_n_biases", "answer_n_biases = 625"),
    _mistake("forgetting the biases", "answer_n_parameters", "answer_n_parameters = 625 * 16 + 16 * 1"),
    _mistake(
        "forgetting the bias of the output neuron",
        "answer_n_parameters",
        "answer_n_parameters = 625 * 16 + 16 + 16 * 1",
    ),
    _mistake("the number as a string", "answer_n_parameters", 'answer_n_parameters = "10033"'),
    _mistake(
        "a 25x25 network can infer on 100x100 images",
        "answer_can_infer_100x100",
        "answer_can_infer_100x100 = True",
    ),
    _mistake("answering with a string", "answer_can_infer_100x100", 'answer_can_infer_100x100 = "no"'),
    # A helper that does not run costs only its own points: forward_propagation is right.
    _mistake(
        "sigmoid left unimplemented (forward_propagation keeps its points)",
        "sigmoid",
        """def sigmoid(z):
    raise NotImplementedError()
""",
    ),
    # Beginners' code that ends in a Python or numpy error (issue 21)
    Mistake(
        name="math.exp in sigmoid",
        cells={"sigmoid": "import math\n\n\ndef sigmoid(z):\n    return 1 / (1 + math.exp(-z))\n"},
        fails=("test_sigmoid",),
        says="Use numpy's np.exp",
    ),
    Mistake(
        name="X @ W instead of W @ X",
        cells={"layer_forward": """def layer_forward(W, b, X, activation):
    return activation(X @ W + np.reshape(b, (-1, 1)))
"""},
        fails=("test_layer_forward",),
        says="Θ · x, not x · Θ",
    ),
    Mistake(
        name="question 1 answered transposed (the demo below it must not crash)",
        cells={"answer_weight_shape": "answer_weight_shape = (625, 16)\n"},
        fails=("test_answer_weight_shape",),
    ),
    Mistake(
        name="question 2 answered with one bias per input (the demo below it must not crash)",
        cells={"answer_n_biases": "answer_n_biases = 625\n"},
        fails=("test_answer_n_biases",),
    ),
]
