import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    scores = outsideVectors.dot(centerWordVec)
    y_hat = np.exp(scores - scores.max())
    y_hat = y_hat / y_hat.sum()
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = outsideVectors.T.dot(y_hat)
    delta = y_hat.copy()
    delta[outsideWordIdx] -= 1
    gradOutsideVecs = np.outer(delta, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
