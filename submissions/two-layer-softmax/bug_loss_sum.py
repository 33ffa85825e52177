# example (bug): the loss is summed over the batch instead of averaged, while the gradients are
# averaged (divided by N) as they should be. Only the loss is wrong.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    probs = torch.exp(scores) / torch.sum(torch.exp(scores), dim=1, keepdim=True)
    correct_logprobs = -torch.log(probs[range(N), y])
    loss = torch.sum(correct_logprobs)
    print("loss:", loss.item())

    dscores = probs.clone()
    dscores[range(N), y] -= 1
    dscores /= N
    dW2 = a.T @ dscores
    db2 = torch.sum(dscores, dim=0)
    dh = dscores @ W2.T
    dh[h <= 0] = 0
    dW1 = X.T @ dh
    db1 = torch.sum(dh, dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
