# example (correct): fully vectorized, numpy-like idioms on torch tensors (axis=, one-hot
# matrix), max-subtraction trick, a sanity check at the bottom that only runs as a script.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    hidden = torch.maximum(X @ W1 + b1, torch.zeros(1, dtype=X.dtype))
    return hidden @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    num_train = X.shape[0]
    num_classes = W2.shape[1]

    # ---- forward ----
    z1 = X.matmul(W1) + b1
    hidden = torch.maximum(z1, torch.zeros(1, dtype=X.dtype))
    scores = hidden.matmul(W2) + b2

    scores = scores - scores.max(axis=1, keepdims=True).values
    exp_scores = scores.exp()
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)

    one_hot = torch.zeros(num_train, num_classes, dtype=X.dtype)
    one_hot[torch.arange(num_train), y] = 1.0
    loss = -(one_hot * torch.log(probs)).sum() / num_train

    # ---- backward ----
    dscores = (probs - one_hot) / num_train
    grads = {}
    grads["W2"] = hidden.T @ dscores
    grads["b2"] = dscores.sum(axis=0)
    dhidden = dscores @ W2.T
    dhidden[z1 <= 0] = 0
    grads["W1"] = X.T @ dhidden
    grads["b1"] = dhidden.sum(axis=0)
    return loss, grads


if __name__ == "__main__":
    torch.manual_seed(0)
    X = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 2, 1])
    W1, b1 = 1e-1 * torch.randn(4, 10, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)
    W2, b2 = 1e-1 * torch.randn(10, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    loss, grads = two_layer_loss(X, y, W1, b1, W2, b2)
    print("loss", loss.item(), "(should be close to log(3) =", torch.log(torch.tensor(3.0)).item(), ")")
    for k, v in grads.items():
        print(k, tuple(v.shape))
