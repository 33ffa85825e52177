import numpy as np


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    gradCenterVec = outsideVectors.T @ (y_hat - y)
    # dJ/dU = v_c (y_hat - y)^T
    gradOutsideVecs = np.outer(centerWordVec, y_hat - y)
    return loss, gradCenterVec, gradOutsideVecs
