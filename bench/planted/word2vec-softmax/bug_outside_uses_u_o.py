import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    u_o = outsideVectors[outsideWordIdx]
    y_hat = softmax(outsideVectors @ centerWordVec)
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1.0
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = outsideVectors.T @ (y_hat - y)
    gradOutsideVecs = np.outer(y_hat - y, u_o)
    return loss, gradCenterVec, gradOutsideVecs
