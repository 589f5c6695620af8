"""The lecture's table of typical mistakes (shared/lecture/FACTS.md), kept here so every clone has it.

tests/test_grading.py checks that this copy equals the shared file wherever that file is present (and
fails in CI when it is missing), and that every row has a sample mistake that costs its points.
"""

from __future__ import annotations

import re
from pathlib import Path

# (function, mistake) of each row of "## Typical mistakes and an input that exposes each"
MISTAKES: tuple[tuple[str, str], ...] = (
    ('SVM', 'includes the j = y_i term'),
    ('SVM', 'no margin (Δ = 0)'),
    ('SVM', 'forgets max(0, ·)'),
    ('SVM', 'max over j instead of sum'),
    ('SVM', 'rows taken as examples'),
    ('SVM', 'mean over all K·N entries'),
    ('SVM', 'divides by K instead of N'),
    ('SVM', 'masks with M[y, :] = 0'),
    ('softmax', 'no max-subtraction'),
    ('softmax', 'one global max instead of per column'),
    ('softmax', 'normalizes along rows or the whole matrix'),
    ('cross-entropy', 'log10 instead of ln'),
    ('cross-entropy', 'sum instead of mean'),
    ('cross-entropy', 'one-hot mean over K·N'),
    ('cross-entropy', 'softmax then log'),
    ('sigmoid', 'naive 1/(1+exp(-z))'),
    ('sigmoid', 'exp(z)/(1+exp(z))'),
    ('sigmoid', 'sign error'),
    ('BCE', 'y instead of (1 - y)'),
    ('BCE', 'missing minus sign'),
    ('BCE', 'm taken from the wrong axis of a (1, m) array'),
    ('BCE', 'no clipping: 0·log 0'),
    ('L1', 'no abs'),
    ('L2', 'norm instead of squared norm'),
    ('L2', 'θ*2 instead of θ**2'),
    ('L1', 'np.linalg.norm(W, 1) on a matrix (induced norm)'),
    ('L2', 'np.linalg.norm(W, 2)**2 on a matrix (spectral)'),
    ('forward', 'x·Θ instead of Θ·x'),
    ('forward', 'no hidden activation'),
    ('forward', 'bias of shape (h,) broadcast over a batch'),
    ('forward', '* instead of @'),
    ('precision', 'swapped with recall'),
    ('precision', 'no predicted positives'),
    ('R²', 'squared correlation'),
    ('R²', 'SS_tot around mean(ŷ)'),
    ('accuracy', 'argmax along the wrong axis'),
)

# The notebook each function of the table belongs to.
FACTS_NOTEBOOK = {
    "SVM": "02_svm_loss",
    "softmax": "03_softmax_cross_entropy",
    "cross-entropy": "03_softmax_cross_entropy",
    "sigmoid": "01_forward_propagation",
    "forward": "01_forward_propagation",
    "BCE": "05_binary_cross_entropy",
    "L1": "04_regularization",
    "L2": "04_regularization",
    "precision": "06_scores",
    "R²": "06_scores",
    "accuracy": "06_scores",
}


def facts_mistakes() -> tuple[tuple[str, str], ...]:
    """(function, mistake) of every row of the lecture's mistakes table."""
    return MISTAKES


def parse_facts(path: Path) -> list[tuple[str, str]]:
    """(function, mistake) of every row of the mistakes table in a FACTS.md file."""
    table = path.read_text(encoding="utf-8").split("## Typical mistakes", 1)[1]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] != "function" and not re.fullmatch(r"-*", cells[0]):
            rows.append((cells[0], cells[1]))
    return rows
