import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V = outsideVectors.shape[0]
    z = outsideVectors @ centerWordVec
    ez = np.exp(z - np.max(z))
    y_hat = ez / ez.sum()
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = y_hat @ outsideVectors - outsideVectors[outsideWordIdx]
    gradOutsideVecs = np.zeros_like(outsideVectors)
    for w in range(V):
        gradOutsideVecs[w] = y_hat[w] * centerWordVec
    gradOutsideVecs[outsideWordIdx] = -centerWordVec  # the true word
    return loss, gradCenterVec, gradOutsideVecs
