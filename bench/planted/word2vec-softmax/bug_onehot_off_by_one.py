import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - x.max()
    return np.exp(x) / np.exp(x).sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V = outsideVectors.shape[0]
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    # one-hot of the outside word (word indices start at 1 in the handout's example... they don't)
    y = np.zeros(V)
    y[outsideWordIdx - 1] = 1
    gradCenterVec = outsideVectors.T @ (y_hat - y)
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
