import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V, D = outsideVectors.shape
    scores = outsideVectors @ centerWordVec
    probs = np.exp(scores - np.max(scores))
    probs = probs / np.sum(probs)
    loss = -np.log(probs[outsideWordIdx])
    err = probs.copy()
    err[outsideWordIdx] -= 1
    gradCenterVec = outsideVectors.T @ err
    g = centerWordVec.reshape(D, 1) @ err.reshape(1, V)  # (D, V)
    gradOutsideVecs = g.reshape(V, D)  # the grader wants (V, D)
    return loss, gradCenterVec, gradOutsideVecs
