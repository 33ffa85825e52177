import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    loss = -np.log(y_hat[outsideWordIdx])
    dJ_dyhat_times_dyhat = y_hat - y
    # ... times the softmax derivative y_hat (1 - y_hat)
    dscores = dJ_dyhat_times_dyhat * y_hat * (1 - y_hat)
    gradCenterVec = outsideVectors.T @ dscores
    gradOutsideVecs = np.outer(dscores, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
