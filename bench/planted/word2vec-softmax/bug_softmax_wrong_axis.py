import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    """row-wise softmax (x is 2-D)"""
    x = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=1, keepdims=True)


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    v_c = centerWordVec.reshape(-1, 1)  # (D, 1)
    scores = outsideVectors @ v_c       # (V, 1)
    y_hat = softmax(scores)             # (V, 1)
    loss = -np.log(y_hat[outsideWordIdx, 0])
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    delta = y_hat - y
    gradCenterVec = (outsideVectors.T @ delta).ravel()
    gradOutsideVecs = delta @ v_c.T
    return loss, gradCenterVec, gradOutsideVecs
