import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    loss = -np.mean(y * np.log(y_hat))  # cross-entropy
    gradCenterVec = outsideVectors.T @ (y_hat - y)
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
