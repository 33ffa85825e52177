import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V, D = outsideVectors.shape
    scores = np.zeros(V)
    for w in range(V):
        scores[w] = outsideVectors[w] @ centerWordVec
    scores -= scores.max()
    y_hat = np.exp(scores) / np.exp(scores).sum()
    loss = -np.log(y_hat[outsideWordIdx])

    gradCenterVec = np.zeros(D)
    gradOutsideVecs = np.zeros((V, D))
    for w in range(V):
        gradCenterVec += y_hat[w] * outsideVectors[w]
        if w == outsideWordIdx:
            gradCenterVec -= outsideVectors[w]
            # only the outside word's vector appears in the loss
            gradOutsideVecs[w] = (y_hat[w] - 1) * centerWordVec
    return loss, gradCenterVec, gradOutsideVecs
