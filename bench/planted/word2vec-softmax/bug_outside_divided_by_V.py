import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    vocab_size = outsideVectors.shape[0]
    y_hat = softmax(np.dot(outsideVectors, centerWordVec))
    loss = -np.log(y_hat[outsideWordIdx])
    y = np.zeros(vocab_size)
    y[outsideWordIdx] = 1
    gradCenterVec = np.dot(outsideVectors.T, y_hat - y)
    # average over the vocabulary so the step size doesn't grow with V
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec) / vocab_size
    return loss, gradCenterVec, gradOutsideVecs
