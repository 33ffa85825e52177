import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    ### YOUR CODE HERE (~6-8 Lines)
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = np.zeros(centerWordVec.shape)  # TODO
    delta = y_hat.copy()
    delta[outsideWordIdx] -= 1
    gradOutsideVecs = np.outer(delta, centerWordVec)
    ### END YOUR CODE
    return loss, gradCenterVec, gradOutsideVecs
