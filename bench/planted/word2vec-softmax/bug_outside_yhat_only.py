import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    u_o = outsideVectors[outsideWordIdx]
    gradCenterVec = -u_o + outsideVectors.T @ y_hat
    # every outside vector gets y_hat_w * v_c
    gradOutsideVecs = np.outer(y_hat, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
