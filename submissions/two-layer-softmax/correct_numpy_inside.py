# example (correct): converts the tensors to numpy, does all the math in numpy (the CS231n
# starter code way) and converts the results back with torch.from_numpy. Uses log-sum-exp
# for the loss.
import numpy as np
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    X, W1, b1, W2, b2 = (t.numpy() for t in (X, W1, b1, W2, b2))
    out = np.maximum(0, X.dot(W1) + b1).dot(W2) + b2
    return torch.from_numpy(out)


def two_layer_loss(X, y, W1, b1, W2, b2):
    X, W1, b1, W2, b2 = (t.numpy() for t in (X, W1, b1, W2, b2))
    y = y.numpy()
    N = X.shape[0]

    fc1 = X.dot(W1) + b1
    relu1 = np.maximum(0, fc1)
    scores = relu1.dot(W2) + b2

    m = np.max(scores, axis=1, keepdims=True)
    log_z = m + np.log(np.sum(np.exp(scores - m), axis=1, keepdims=True))
    log_probs = scores - log_z
    loss = -np.sum(log_probs[np.arange(N), y]) / N

    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dscores /= N

    dW2 = relu1.T.dot(dscores)
    db2 = np.sum(dscores, axis=0)
    drelu1 = dscores.dot(W2.T)
    dfc1 = drelu1 * (fc1 > 0)
    dW1 = X.T.dot(dfc1)
    db1 = np.sum(dfc1, axis=0)

    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return torch.tensor(loss), {k: torch.from_numpy(v) for k, v in grads.items()}
