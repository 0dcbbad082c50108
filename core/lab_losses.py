"""Each ending and loss of the lab in NumPy: its value and the gradient it sends to the logits.

Every function takes multi-hot targets `y` and logits `z` of shape (n, 10) and returns
`(loss, gradient)`: the loss per sample, summed over the labels (as `core.losses` trains), and
d loss / d z of the same shape as `z`. The lab's trainer follows these gradients, and the loss
view shows them output by output: the sign says whether an output is pushed down (positive) or
up (negative), the size how hard.

p = sigmoid(z) for the sigmoid endings, s = softmax(z) for the softmax one; k = sum_i y_i is the
number of true labels. Logs are taken as log-sigmoids of the logits, so no output is clipped and
the values agree with Keras' clipped ones wherever the outputs are inside [1e-7, 1 - 1e-7].
"""

from __future__ import annotations

import numpy as np

FOCAL_GAMMA = 2.0  # Lin et al. 2017; Keras' BinaryFocalCrossentropy default
ASL_GAMMA_NEGATIVE = 4.0  # Ridnik et al. 2021, "Asymmetric Loss For Multi-Label Classification"
ASL_GAMMA_POSITIVE = 1.0
ASL_CLIP = 0.05  # the probability margin below which a negative costs nothing


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def log_sigmoid(z):
    """log sigmoid(z) = -log(1 + e^-z), exact for large |z|."""
    return -np.logaddexp(0.0, -z)


def _as_arrays(y, z) -> tuple[np.ndarray, np.ndarray]:
    y, z = np.asarray(y, dtype=np.float64), np.asarray(z, dtype=np.float64)
    if y.shape != z.shape:
        raise ValueError(f"targets {y.shape} and logits {z.shape} must have the same shape.")
    return y, z


def sigmoid_bce(y, z):
    """Sigmoids + binary cross-entropy.

    loss = -sum_i [ y_i log p_i + (1 - y_i) log(1 - p_i) ],   d loss / d z_i = p_i - y_i.

    Every output is its own yes/no question: each absent class is pushed down by its own p_i,
    whatever the others do.
    """
    y, z = _as_arrays(y, z)
    loss = -np.sum(y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z), axis=-1)
    return loss, sigmoid(z) - y


def sigmoid_cce(y, z):
    """Sigmoids + categorical cross-entropy, the article's renormalised formula.

    q_i = p_i / sum_j p_j,   loss = -sum_i y_i log q_i = -sum_i y_i log p_i + k log sum_j p_j,
    d loss / d z_i = (k q_i - y_i)(1 - p_i).

    Only the outputs' ratios count: scaling every p_i by one factor leaves the loss unchanged,
    so the gradient along that direction is zero and nothing ties the outputs to 0.5.
    """
    y, z = _as_arrays(y, z)
    p, count = sigmoid(z), y.sum(axis=-1, keepdims=True)
    log_total = np.log(p.sum(axis=-1, keepdims=True))
    loss = -np.sum(y * log_sigmoid(z), axis=-1) + (count * log_total)[..., 0]
    q = p / p.sum(axis=-1, keepdims=True)
    return loss, (count * q - y) * (1.0 - p)


def softmax_cce(y, z):
    """Softmax + categorical cross-entropy.

    s_i = e^z_i / sum_j e^z_j,   loss = -sum_i y_i log s_i,   d loss / d z_i = k s_i - y_i.

    The outputs share one unit of mass: raising one lowers all the others, so with four true
    labels each can reach at most 1/4, far below the 0.5 threshold.
    """
    y, z = _as_arrays(y, z)
    shifted = z - z.max(axis=-1, keepdims=True)
    log_s = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    count = y.sum(axis=-1, keepdims=True)
    return -np.sum(y * log_s, axis=-1), count * np.exp(log_s) - y


def sigmoid_mse(y, z):
    """Sigmoids + squared error.

    loss = sum_i (p_i - y_i)^2,   d loss / d z_i = 2 (p_i - y_i) p_i (1 - p_i).

    The sigmoid's slope p (1 - p) multiplies the error: an output stuck near the wrong end
    (p near 0 for a true label) is barely pushed.
    """
    y, z = _as_arrays(y, z)
    p = sigmoid(z)
    return np.sum((p - y) ** 2, axis=-1), 2.0 * (p - y) * p * (1.0 - p)


def _focal_terms(z, gamma_positive, gamma_negative, clip=0.0):
    """(loss, gradient) of a true label and of an absent one, per output, for the focal family:

    true:   -(1 - p)^g+ log p,     gradient  g+ p (1 - p)^g+ log p - (1 - p)^(g+ + 1)
    absent: -m^g- log(1 - m),      m = max(p - clip, 0),
            gradient  p (1 - p) [ -g- m^(g- - 1) log(1 - m) + m^g- / (1 - m) ]
    """
    p = sigmoid(z)
    true_loss = -((1.0 - p) ** gamma_positive) * log_sigmoid(z)
    true_gradient = gamma_positive * p * (1.0 - p) ** gamma_positive * log_sigmoid(z) - (
        1.0 - p
    ) ** (gamma_positive + 1.0)
    if clip == 0.0:
        log_rest = log_sigmoid(-z)  # log(1 - p), exact for large z
        margin = p
    else:
        margin = np.maximum(p - clip, 0.0)
        log_rest = np.log1p(-margin)
    absent_loss = -(margin**gamma_negative) * log_rest
    slope = -gamma_negative * margin ** (
        gamma_negative - 1.0
    ) * log_rest + margin**gamma_negative / (1.0 - margin)
    absent_gradient = np.where(margin > 0.0, p * (1.0 - p) * slope, 0.0)
    return true_loss, true_gradient, absent_loss, absent_gradient


def sigmoid_focal(y, z, gamma=FOCAL_GAMMA):
    """Sigmoids + focal loss (Lin et al. 2017), gamma 2, no class weights.

    loss = -sum_i [ y_i (1 - p_i)^g log p_i + (1 - y_i) p_i^g log(1 - p_i) ]

    (gradients: `_focal_terms` with g+ = g- = g). An easy answer (p near its target) is
    down-weighted by (distance to the target)^g: easy negatives are hardly pushed.
    """
    return _focal_family(y, z, gamma, gamma, 0.0)


def sigmoid_asl(
    y, z, gamma_negative=ASL_GAMMA_NEGATIVE, gamma_positive=ASL_GAMMA_POSITIVE, clip=ASL_CLIP
):
    """Sigmoids + asymmetric loss (Ridnik et al. 2021): gamma- 4, gamma+ 1, clip 0.05.

    m_i = max(p_i - clip, 0),
    loss = -sum_i [ y_i (1 - p_i)^g+ log p_i + (1 - y_i) m_i^g- log(1 - m_i) ]

    (gradients: `_focal_terms`). Negatives, six of every ten labels here, are down-weighted
    harder than positives, and one whose output is below the clip costs nothing at all.
    """
    return _focal_family(y, z, gamma_positive, gamma_negative, clip)


def _focal_family(y, z, gamma_positive, gamma_negative, clip):
    y, z = _as_arrays(y, z)
    true_loss, true_gradient, absent_loss, absent_gradient = _focal_terms(
        z, gamma_positive, gamma_negative, clip
    )
    loss = np.sum(y * true_loss + (1.0 - y) * absent_loss, axis=-1)
    return loss, y * true_gradient + (1.0 - y) * absent_gradient
