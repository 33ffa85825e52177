import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V, D = outsideVectors.shape
    s = outsideVectors @ centerWordVec
    y_hat = np.exp(s - s.max())
    y_hat /= y_hat.sum()
    loss = -np.log(y_hat[outsideWordIdx])
    d = y_hat.copy()
    d[outsideWordIdx] -= 1
    # U is (V, D); need (D, V) to multiply d
    gradCenterVec = outsideVectors.reshape(D, V) @ d
    gradOutsideVecs = np.outer(d, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
