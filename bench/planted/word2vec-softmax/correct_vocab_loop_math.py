import math

import numpy as np


def sigmoid(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    flat_in, flat_out = x.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat_in):
        if v >= 0:
            flat_out[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            z = math.exp(v)
            flat_out[i] = z / (1.0 + z)
    return out


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    V, D = outsideVectors.shape
    # scores one word at a time
    scores = [float(np.dot(outsideVectors[w], centerWordVec)) for w in range(V)]
    m = max(scores)
    exps = [math.exp(s - m) for s in scores]
    Z = sum(exps)
    probs = [e / Z for e in exps]
    loss = -math.log(probs[outsideWordIdx])

    gradCenterVec = np.zeros(D)
    gradOutsideVecs = np.zeros((V, D))
    for w in range(V):
        err = probs[w] - (1.0 if w == outsideWordIdx else 0.0)
        gradCenterVec += err * outsideVectors[w]
        gradOutsideVecs[w] = err * centerWordVec
    return loss, gradCenterVec, gradOutsideVecs
