import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    u_o = outsideVectors[outsideWordIdx]
    scores = outsideVectors @ centerWordVec
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    # J = -u_o . v_c + log sum_w exp(u_w . v_c)
    loss = -u_o @ centerWordVec + np.log(np.sum(np.exp(scores)))
    gradCenterVec = -u_o
    gradOutsideVecs = np.outer(probs, centerWordVec)
    gradOutsideVecs[outsideWordIdx] -= centerWordVec
    return loss, gradCenterVec, gradOutsideVecs
