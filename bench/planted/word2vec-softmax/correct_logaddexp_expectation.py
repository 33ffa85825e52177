"""naive softmax with the loss as log-sum-exp minus the true score, gradients as expectations."""
import numpy as np


def sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    u_o = outsideVectors[outsideWordIdx]
    theta = outsideVectors @ centerWordVec
    log_Z = np.logaddexp.reduce(theta)
    loss = log_Z - theta[outsideWordIdx]
    p = np.exp(theta - log_Z)
    # dJ/dv_c = -u_o + E_{w~p}[u_w]
    gradCenterVec = -u_o + p @ outsideVectors
    # dJ/du_w = (p_w - 1[w == o]) v_c
    gradOutsideVecs = p[:, np.newaxis] * centerWordVec[np.newaxis, :]
    gradOutsideVecs[outsideWordIdx] -= centerWordVec
    return loss, gradCenterVec, gradOutsideVecs
