import numpy as np


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    y = np.zeros(outsideVectors.shape[0])
    y[outsideWordIdx] = 1
    loss = -np.log(y_hat[outsideWordIdx])
    delta = y - y_hat  # "true minus predicted"
    gradCenterVec = outsideVectors.T @ delta
    gradOutsideVecs = np.outer(delta, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
