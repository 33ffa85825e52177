import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    scores = outsideVectors @ centerWordVec
    y_hat = np.exp(scores - scores.max())
    y_hat /= y_hat.sum()
    y = np.zeros_like(scores)
    y[outsideWordIdx] = 1
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = outsideVectors.T @ (scores - y)
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
