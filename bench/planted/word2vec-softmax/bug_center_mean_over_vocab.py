import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    s = outsideVectors @ centerWordVec
    p = np.exp(s - s.max())
    p /= p.sum()
    loss = -np.log(p[outsideWordIdx])
    d = p.copy()
    d[outsideWordIdx] -= 1
    # weighted average of the outside vectors
    gradCenterVec = np.mean(d[:, None] * outsideVectors, axis=0)
    gradOutsideVecs = d[:, None] * centerWordVec[None, :]
    return loss, gradCenterVec, gradOutsideVecs
