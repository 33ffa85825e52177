# example (bug): a sign error in the softmax gradient, dscores = (probs + onehot) / N instead of
# (probs - onehot) / N. All four gradients are wrong; forward and loss are right.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N, C = X.shape[0], W2.shape[1]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    e = torch.exp(scores - scores.max(dim=1, keepdim=True).values)
    probs = e / e.sum(dim=1, keepdim=True)
    onehot = torch.nn.functional.one_hot(y, C).to(probs.dtype)
    loss = -(onehot * probs.log()).sum(dim=1).mean()

    # d(-log p_y)/ds = p + onehot    <- should be minus
    dscores = (probs + onehot) / N
    dW2 = a.T @ dscores
    db2 = dscores.sum(dim=0)
    dh = (dscores @ W2.T) * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
