"""The course's solution to `word2vec-softmax` (CS224n a2, word2vec.py, naive softmax)."""

import numpy as np


def softmax(x):
    """Softmax of a 1-D array, shifted by its max for stability."""
    e = np.exp(x - np.max(x))
    return e / e.sum()


def sigmoid(x):
    """Sigmoid of a scalar or numpy array."""
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    """Naive-softmax loss of one (center, outside) pair and its gradients.

    centerWordVec (D,), outsideWordIdx an int, outsideVectors (V, D); dataset unused.
    Returns (loss, gradCenterVec (D,), gradOutsideVecs (V, D)).
    """
    y_hat = softmax(outsideVectors @ centerWordVec)  # (V,)
    loss = -np.log(y_hat[outsideWordIdx])
    delta = y_hat.copy()
    delta[outsideWordIdx] -= 1  # y_hat - y
    gradCenterVec = outsideVectors.T @ delta  # U^T (y_hat - y), (D,)
    gradOutsideVecs = np.outer(delta, centerWordVec)  # (y_hat - y) v_c^T, (V, D)
    return loss, gradCenterVec, gradOutsideVecs
