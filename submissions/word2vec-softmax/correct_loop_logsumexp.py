# word2vec naive softmax, one vocabulary word at a time: the loss by log-sum-exp, returned as a
# Python float; a numerically stable sigmoid (np.where on the sign); gradients accumulated per row.
import math

import numpy as np


def sigmoid(x):
    x = np.asarray(x, dtype=float)
    pos = 1 / (1 + np.exp(-np.abs(x)))
    return np.where(x >= 0, pos, 1 - pos)


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    o = int(outsideWordIdx)
    V = outsideVectors.shape[0]
    scores = [float(outsideVectors[w] @ centerWordVec) for w in range(V)]
    m = max(scores)
    log_z = m + math.log(sum(math.exp(s - m) for s in scores))
    loss = log_z - scores[o]

    gradCenterVec = np.zeros_like(centerWordVec)
    gradOutsideVecs = np.zeros_like(outsideVectors)
    for w in range(V):
        p = math.exp(scores[w] - log_z)
        coeff = p - (1.0 if w == o else 0.0)
        gradCenterVec += coeff * outsideVectors[w]
        gradOutsideVecs[w] = coeff * centerWordVec
    return loss, gradCenterVec, gradOutsideVecs
