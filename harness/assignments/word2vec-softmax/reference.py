"""Reference for `word2vec-softmax`: CS224n assignment 2's naive-softmax word2vec loss.

    scores = U v_c                     (V,)   U = outsideVectors (V, D), v_c = centerWordVec (D,)
    y_hat  = softmax(scores)           (V,)
    loss   = -log y_hat[o]                    o = outsideWordIdx

The grader gets grad.centerWordVec (dJ/dv_c, (D,)) and grad.outsideVectors (dJ/dU, (V, D)) from
this by autograd. `x` is the input of the separate `sigmoid` check.
"""

import torch


def compute(centerWordVec, outsideWordIdx, outsideVectors, x):
    scores = outsideVectors @ centerWordVec  # (V,)
    y_hat = torch.softmax(scores, dim=0)  # (V,)
    loss = -torch.log_softmax(scores, dim=0)[outsideWordIdx]
    return {"scores": scores, "y_hat": y_hat, "sigmoid": torch.sigmoid(x), "loss": loss}
