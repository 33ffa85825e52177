import numpy as np

sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    logits = np.einsum("vd,d->v", outsideVectors, centerWordVec)
    logits = logits - logits.max()
    log_probs = logits - np.log(np.exp(logits).sum())
    loss = -log_probs[outsideWordIdx]
    onehot = np.eye(outsideVectors.shape[0])[outsideWordIdx]
    dlogits = np.exp(log_probs) - onehot
    gradCenterVec = np.einsum("v,vd->d", dlogits, outsideVectors)
    gradOutsideVecs = np.einsum("v,d->vd", dlogits, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
