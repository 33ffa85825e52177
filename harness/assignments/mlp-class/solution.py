"""The course's solution to the `mlp-class` homework: a two-layer MLP with a hand-written backward.

No autograd anywhere: every gradient below is derived by hand.
"""

import torch


def _activation(name, z):
    if name == "relu":
        return torch.relu(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "identity":
        return z
    raise ValueError(f"unknown activation {name!r}")


def _activation_derivative(name, z):
    """d activation(z) / dz, elementwise, evaluated at the pre-activation z."""
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1 - s)
    if name == "identity":
        return torch.ones_like(z)
    raise ValueError(f"unknown activation {name!r}")


class MLP:
    def __init__(
        self,
        linear_1_in_features,
        linear_1_out_features,
        f_function,
        linear_2_in_features,
        linear_2_out_features,
        g_function,
    ):
        """
        Args:
            linear_1_in_features: the in features of first linear layer
            linear_1_out_features: the out features of first linear layer
            linear_2_in_features: the in features of second linear layer
            linear_2_out_features: the out features of second linear layer
            f_function: string for the f function: relu | sigmoid | identity
            g_function: string for the g function: relu | sigmoid | identity
        """
        self.f_function = f_function
        self.g_function = g_function

        self.parameters = dict(
            W1=torch.randn(linear_1_out_features, linear_1_in_features),
            b1=torch.randn(linear_1_out_features),
            W2=torch.randn(linear_2_out_features, linear_2_in_features),
            b2=torch.randn(linear_2_out_features),
        )
        self.grads = dict(
            dJdW1=torch.zeros(linear_1_out_features, linear_1_in_features),
            dJdb1=torch.zeros(linear_1_out_features),
            dJdW2=torch.zeros(linear_2_out_features, linear_2_in_features),
            dJdb2=torch.zeros(linear_2_out_features),
        )

        # put all the cache value you need in self.cache
        self.cache = dict()

    def forward(self, x):
        """
        Args:
            x: tensor shape (batch_size, linear_1_in_features)
        Return:
            y_hat: tensor shape (batch_size, linear_2_out_features)
        """
        p = self.parameters
        z1 = x @ p["W1"].T + p["b1"]
        z2 = _activation(self.f_function, z1)
        z3 = z2 @ p["W2"].T + p["b2"]
        y_hat = _activation(self.g_function, z3)
        self.cache = dict(x=x, z1=z1, z2=z2, z3=z3)
        return y_hat

    def backward(self, dJdy_hat):
        """
        Args:
            dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
        Return:
            nothing; self.grads holds the gradients, summed over the batch
        """
        c = self.cache
        dJdz3 = dJdy_hat * _activation_derivative(self.g_function, c["z3"])  # (N, K)
        dJdz2 = dJdz3 @ self.parameters["W2"]  # (N, H)
        dJdz1 = dJdz2 * _activation_derivative(self.f_function, c["z1"])  # (N, H)

        self.grads["dJdW2"] = dJdz3.T @ c["z2"]  # (K, H)
        self.grads["dJdb2"] = dJdz3.sum(dim=0)  # (K,)
        self.grads["dJdW1"] = dJdz1.T @ c["x"]  # (H, D)
        self.grads["dJdb1"] = dJdz1.sum(dim=0)  # (H,)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    """
    Args:
        y: the label tensor (batch_size, linear_2_out_features)
        y_hat: the prediction tensor (batch_size, linear_2_out_features)

    Return:
        J: scalar of loss, the mean over all entries
        dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
    """
    n = y.numel()
    diff = y_hat - y
    J = (diff**2).sum() / n
    dJdy_hat = 2 * diff / n
    return J, dJdy_hat


def bce_loss(y, y_hat):
    """
    Args:
        y_hat: the prediction tensor, entries in (0, 1)
        y: the label tensor, entries in [0, 1]

    Return:
        J: scalar of loss, the mean over all entries
        dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
    """
    n = y.numel()
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).sum() / n
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / n
    return J, dJdy_hat
