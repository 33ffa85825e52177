"""
Homework 1: MLP forward and backward, no autograd.
"""
import torch


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

    @staticmethod
    def _apply(name, z):
        return {"relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda t: t}[name](z)

    @staticmethod
    def _deriv(name, z):
        if name == "sigmoid":
            s = torch.sigmoid(z)
            return s * (1 - s)
        # relu is linear (slope 1), identity is slope 1
        return torch.ones_like(z)

    def forward(self, x):
        W1, b1, W2, b2 = (self.parameters[k] for k in ("W1", "b1", "W2", "b2"))
        self.cache["x"] = x
        self.cache["z1"] = x @ W1.t() + b1
        self.cache["z2"] = self._apply(self.f_function, self.cache["z1"])
        self.cache["z3"] = self.cache["z2"] @ W2.t() + b2
        return self._apply(self.g_function, self.cache["z3"])

    def backward(self, dJdy_hat):
        c = self.cache
        d3 = dJdy_hat * self._deriv(self.g_function, c["z3"])
        d1 = (d3 @ self.parameters["W2"]) * self._deriv(self.f_function, c["z1"])
        self.grads["dJdW2"] = d3.t() @ c["z2"]
        self.grads["dJdb2"] = d3.sum(dim=0)
        self.grads["dJdW1"] = d1.t() @ c["x"]
        self.grads["dJdb1"] = d1.sum(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    diff = y_hat - y
    return (diff ** 2).mean(), 2 * diff / diff.numel()


def bce_loss(y, y_hat):
    n = y.numel()
    J = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).sum() / n
    return J, ((1 - y) / (1 - y_hat) - y / y_hat) / n
