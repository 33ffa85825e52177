"""Student kept a tiny model class for their own experiments; the graded functions wrap it."""
import numpy as np


class NaiveSoftmax:
    def __init__(self, U):
        self.U = U

    def forward(self, v_c):
        s = self.U @ v_c
        s -= s.max()
        self.p = np.exp(s)
        self.p /= self.p.sum()
        self.v_c = v_c
        return self.p

    def backward(self, o):
        d = self.p.copy()
        d[o] -= 1.0
        return self.U.T @ d, d[:, None] @ self.v_c[None, :]


def sigmoid(x):
    return np.reciprocal(1.0 + np.exp(-x))


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    model = NaiveSoftmax(outsideVectors)
    p = model.forward(centerWordVec)
    loss = -np.log(p[outsideWordIdx])
    gradCenterVec, gradOutsideVecs = model.backward(outsideWordIdx)
    return loss, gradCenterVec, gradOutsideVecs
