import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    scores = outsideVectors.dot(centerWordVec)
    e = np.exp(scores - scores.max())
    y_hat = e / e.sum()
    loss = -np.log(y_hat[outsideWordIdx])
    diff = y_hat.copy()
    diff[outsideWordIdx] -= 1
    gradCenterVec = outsideVectors.T.dot(diff)
    # chain rule through v_c
    gradOutsideVecs = np.outer(diff, gradCenterVec)
    return loss, gradCenterVec, gradOutsideVecs
