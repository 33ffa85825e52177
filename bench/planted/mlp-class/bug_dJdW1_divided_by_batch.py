"""HW1 mlp.py -- forward and backward by hand."""
import torch


def apply_activation(name, z):
    if name == "relu":
        return torch.relu(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "identity":
        return z
    raise ValueError(name)


def activation_grad(name, z):
    """derivative wrt the pre-activation z"""
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1 - s)
    if name == "identity":
        return torch.ones_like(z)
    raise ValueError(name)


class MLP:
    def __init__(self, linear_1_in_features, linear_1_out_features, f_function,
                 linear_2_in_features, linear_2_out_features, g_function):
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
        self.cache = dict()

    def forward(self, x):
        W1, b1 = self.parameters["W1"], self.parameters["b1"]
        W2, b2 = self.parameters["W2"], self.parameters["b2"]
        z1 = x @ W1.T + b1
        z2 = apply_activation(self.f_function, z1)
        z3 = z2 @ W2.T + b2
        y_hat = apply_activation(self.g_function, z3)
        self.cache["x"] = x
        self.cache["z1"] = z1
        self.cache["z2"] = z2
        self.cache["z3"] = z3
        return y_hat

    def backward(self, dJdy_hat):
        x, z1, z2, z3 = self.cache["x"], self.cache["z1"], self.cache["z2"], self.cache["z3"]
        W2 = self.parameters["W2"]
        dJdz3 = dJdy_hat * activation_grad(self.g_function, z3)
        self.grads["dJdW2"] = dJdz3.T @ z2
        self.grads["dJdb2"] = dJdz3.sum(dim=0)
        dJdz2 = dJdz3 @ W2
        dJdz1 = dJdz2 * activation_grad(self.f_function, z1)
        self.grads["dJdW1"] = dJdz1.T @ x / x.shape[0]
        self.grads["dJdb1"] = dJdz1.sum(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    n = y.numel()
    J = ((y_hat - y) ** 2).sum() / n
    dJdy_hat = 2 * (y_hat - y) / n
    return J, dJdy_hat


def bce_loss(y, y_hat):
    n = y.numel()
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).sum() / n
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / n
    return J, dJdy_hat
