import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    n_samples = X.shape[0]
    z1 = X @ W1 + b1
    a1 = torch.relu(z1)
    z2 = a1 @ W2 + b2
    z2 = z2 - z2.max(dim=1, keepdim=True).values
    soft = torch.exp(z2) / torch.exp(z2).sum(dim=1, keepdim=True)
    loss = -torch.log(soft[range(n_samples), y]).sum() / n_samples

    delta2 = soft.clone()
    delta2[range(n_samples), y] -= 1
    delta2 = delta2 / n_samples
    dW2 = a1.T @ delta2
    db2 = torch.sum(delta2, dim=0)
    delta1 = (delta2 @ W2.T) * (z1 > 0)
    dW1 = X.T @ delta1
    db1 = torch.sum(delta1, dim=1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
