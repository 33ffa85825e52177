import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    y = np.zeros(len(y_hat))
    y[outsideWordIdx] = 1
    loss = -np.log(y_hat[outsideWordIdx])
    # d/dz of ||y_hat - y||^2-style error
    dz = 2 * (y_hat - y)
    gradCenterVec = outsideVectors.T @ dz
    gradOutsideVecs = np.outer(dz, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
