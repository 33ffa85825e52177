import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V, D = outsideVectors.shape
    y_hat = np.exp(outsideVectors @ centerWordVec)
    y_hat = (y_hat / y_hat.sum()).reshape(V, 1)
    loss = -np.log(y_hat[outsideWordIdx, 0])
    y = np.zeros((V, 1))
    y[outsideWordIdx] = 1
    gradCenterVec = outsideVectors.T @ (y_hat - y)  # (D, 1)
    gradOutsideVecs = (y_hat - y) @ centerWordVec.reshape(1, D)
    return loss, gradCenterVec, gradOutsideVecs
