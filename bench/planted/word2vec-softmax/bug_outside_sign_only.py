import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    scores = np.dot(outsideVectors, centerWordVec)
    scores = scores - np.max(scores)
    probs = np.exp(scores) / np.sum(np.exp(scores))
    loss = -np.log(probs[outsideWordIdx])
    y = np.zeros(probs.shape)
    y[outsideWordIdx] = 1
    gradCenterVec = np.dot(outsideVectors.T, probs - y)
    gradOutsideVecs = np.outer(y - probs, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
