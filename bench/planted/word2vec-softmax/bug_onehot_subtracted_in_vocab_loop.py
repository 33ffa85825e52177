import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V, D = outsideVectors.shape
    scores = outsideVectors @ centerWordVec
    probs = np.exp(scores - np.max(scores))
    probs = probs / probs.sum()
    loss = -np.log(probs[outsideWordIdx])
    gradCenterVec = np.zeros(D)
    gradOutsideVecs = np.zeros((V, D))
    for w in range(V):
        gradCenterVec += probs[w] * outsideVectors[w]
        gradOutsideVecs[w] += probs[w] * centerWordVec
        gradCenterVec -= outsideVectors[outsideWordIdx]
        gradOutsideVecs[outsideWordIdx] -= centerWordVec
    return loss, gradCenterVec, gradOutsideVecs
