import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    # works on rows of a 2-D array, like the starter code's utils/utils.py
    orig_shape = x.shape
    if len(x.shape) > 1:
        x = x - np.max(x, axis=1, keepdims=True)
        x = np.exp(x)
        x = x / np.sum(x, axis=1, keepdims=True)
    else:
        x = np.exp(x - np.max(x))
        x = x / np.sum(x)
    assert x.shape == orig_shape
    return x


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    v_c = centerWordVec.reshape(-1, 1)              # (D, 1)
    scores = np.dot(outsideVectors, v_c).reshape(1, -1)  # (1, V)
    y_hat = softmax(scores).reshape(-1, 1)           # (V, 1)
    loss = float(-np.log(y_hat[outsideWordIdx, 0]))
    y = np.zeros_like(y_hat)
    y[outsideWordIdx, 0] = 1
    delta = y_hat - y                                 # (V, 1)
    gradCenterVec = np.dot(outsideVectors.T, delta).reshape(-1)  # (D,)
    gradOutsideVecs = np.dot(delta, v_c.T)            # (V, 1) @ (1, D) = (V, D)
    return loss, gradCenterVec, gradOutsideVecs
