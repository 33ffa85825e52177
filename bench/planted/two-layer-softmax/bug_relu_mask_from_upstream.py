import torch
import torch.nn.functional as F


def two_layer_forward(X, W1, b1, W2, b2):
    return F.relu(X.mm(W1) + b1).mm(W2) + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.size(0)
    hidden_in = X.mm(W1) + b1
    hidden = F.relu(hidden_in)
    scores = hidden.mm(W2) + b2
    log_p = F.log_softmax(scores, dim=1)
    loss = -log_p[torch.arange(N), y].mean()

    onehot = F.one_hot(y, num_classes=scores.size(1)).to(scores.dtype)
    d_scores = (log_p.exp() - onehot) / N
    d_W2 = hidden.t().mm(d_scores)
    d_b2 = d_scores.sum(0)
    d_hidden = d_scores.mm(W2.t())
    d_hidden_in = d_hidden * (d_hidden > 0)
    d_W1 = X.t().mm(d_hidden_in)
    d_b1 = d_hidden_in.sum(0)
    return loss, {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2}
