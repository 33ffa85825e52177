import numpy as np


def sigmoid(x):
    # stable: sigmoid(x) = (1 + tanh(x)) / 2
    return 0.5 * (1.0 + np.tanh(x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    s = outsideVectors @ centerWordVec
    p = np.exp(s - s.max())
    p /= p.sum()
    loss = -np.log(p[outsideWordIdx])
    p_minus_y = p.copy()
    p_minus_y[outsideWordIdx] -= 1.0
    gradCenterVec = outsideVectors.T @ p_minus_y
    gradOutsideVecs = np.outer(p_minus_y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
