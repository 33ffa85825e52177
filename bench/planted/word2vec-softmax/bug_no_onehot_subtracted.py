import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    scores = np.dot(outsideVectors, centerWordVec)
    exp_scores = np.exp(scores - scores.max())
    probs = exp_scores / exp_scores.sum()
    loss = -np.log(probs[outsideWordIdx])
    # gradient of softmax output wrt the scores
    dscores = probs
    gradCenterVec = np.dot(outsideVectors.T, dscores)
    gradOutsideVecs = np.outer(dscores, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
