# mlp.py, backward one example at a time (outer products), losses with explicit loops
import math

import torch


def f_value(name, z):
    if name == "relu":
        return torch.where(z > 0, z, torch.zeros_like(z))
    if name == "sigmoid":
        return 1.0 / (1.0 + torch.exp(-z))
    return z.clone()


def f_slope(name, z):
    if name == "relu":
        return torch.where(z > 0, torch.ones_like(z), torch.zeros_like(z))
    if name == "sigmoid":
        s = 1.0 / (1.0 + torch.exp(-z))
        return s * (1.0 - s)
    return torch.ones_like(z)


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
        p = self.parameters
        rows = []
        self.cache = {"x": [], "z1": [], "a1": [], "z2": []}
        for xi in x:
            z1 = p["W1"] @ xi + p["b1"]
            a1 = f_value(self.f_function, z1)
            z2 = p["W2"] @ a1 + p["b2"]
            self.cache["x"].append(xi)
            self.cache["z1"].append(z1)
            self.cache["a1"].append(a1)
            self.cache["z2"].append(z2)
            rows.append(f_value(self.g_function, z2))
        return torch.stack(rows)

    def backward(self, dJdy_hat):
        W2 = self.parameters["W2"]
        dW1 = torch.zeros_like(self.parameters["W1"])
        db1 = torch.zeros_like(self.parameters["b1"])
        dW2 = torch.zeros_like(W2)
        db2 = torch.zeros_like(self.parameters["b2"])
        for i in range(dJdy_hat.shape[0]):
            xi, z1, a1, z2 = (self.cache[k][i] for k in ("x", "z1", "a1", "z2"))
            d2 = dJdy_hat[i] * f_slope(self.g_function, z2)
            dW2 += torch.outer(d2, a1)
            db2 += d2
            d1 = (W2.T @ d2) * f_slope(self.f_function, z1)
            dW1 += torch.outer(d1, xi)
            db1 += d1
        self.grads = {"dJdW1": dW1, "dJdb1": db1, "dJdW2": dW2, "dJdb2": db2}

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    rows, cols = y.shape
    total = 0.0
    grad = torch.zeros_like(y_hat)
    for i in range(rows):
        for j in range(cols):
            d = (y_hat[i, j] - y[i, j]).item()
            total += d * d
            grad[i, j] = 2 * d / (rows * cols)
    return torch.tensor(total / (rows * cols), dtype=y_hat.dtype), grad


def bce_loss(y, y_hat):
    rows, cols = y.shape
    total = 0.0
    grad = torch.zeros_like(y_hat)
    for i in range(rows):
        for j in range(cols):
            t, p = y[i, j].item(), y_hat[i, j].item()
            total += -(t * math.log(p) + (1 - t) * math.log(1 - p))
            grad[i, j] = (-t / p + (1 - t) / (1 - p)) / (rows * cols)
    return torch.tensor(total / (rows * cols), dtype=y_hat.dtype), grad
