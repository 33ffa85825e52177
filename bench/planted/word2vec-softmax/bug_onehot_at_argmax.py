import numpy as np


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    theta = outsideVectors.dot(centerWordVec)
    theta -= np.max(theta)
    y_hat = np.exp(theta) / np.sum(np.exp(theta))
    loss = -np.log(y_hat[outsideWordIdx])
    # y: one-hot of the predicted word
    y = np.zeros_like(y_hat)
    y[np.argmax(y_hat)] = 1.
    gradCenterVec = outsideVectors.T.dot(y_hat - y)
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
