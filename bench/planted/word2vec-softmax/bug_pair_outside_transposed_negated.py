import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = outsideVectors.T @ (y_hat - y)
    # from the written part: dJ/dU = v_c (y - y_hat)^T
    gradOutsideVecs = np.outer(centerWordVec, y - y_hat)
    return loss, gradCenterVec, gradOutsideVecs
