"""
mlp.py  --  Homework 1, Part 1

Notation (mine):  a0 = x,  s1 = a0 W1^T + b1,  a1 = f(s1),  s2 = a1 W2^T + b2,  a2 = g(s2) = y_hat
backward accumulates into self.grads (that's why clear_grad_and_cache exists).
"""
import torch

# (function, derivative as a function of the pre-activation)
ACT = {
    "relu": (lambda s: s * (s > 0), lambda s: (s > 0).type_as(s)),
    "sigmoid": (torch.sigmoid, lambda s: torch.sigmoid(s) * (1 - torch.sigmoid(s))),
    "identity": (lambda s: s, lambda s: torch.ones_like(s)),
}


class MLP:
    def __init__(self, linear_1_in_features, linear_1_out_features, f_function,
                 linear_2_in_features, linear_2_out_features, g_function):
        self.f_function = f_function
        self.g_function = g_function
        self.f, self.df = ACT[f_function]
        self.g, self.dg = ACT[g_function]

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
        s1 = torch.einsum("bi,hi->bh", x, p["W1"]) + p["b1"]
        a1 = self.f(s1)
        s2 = torch.einsum("bh,oh->bo", a1, p["W2"]) + p["b2"]
        a2 = self.g(s2)
        self.cache.update(a0=x, s1=s1, a1=a1, s2=s2)
        return a2

    def backward(self, dJdy_hat):
        c = self.cache
        delta2 = dJdy_hat * self.dg(c["s2"])                              # dJ/ds2
        delta1 = torch.einsum("bo,oh->bh", delta2, self.parameters["W2"]) * self.df(c["s1"])  # dJ/ds1

        # accumulate (sum over the batch is inside the einsum)
        self.grads["dJdW2"] += torch.einsum("bo,bh->oh", delta2, c["a1"])
        self.grads["dJdb2"] += delta2.sum(dim=0)
        self.grads["dJdW1"] += torch.einsum("bh,bi->hi", delta1, c["a0"])
        self.grads["dJdb1"] += delta1.sum(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    err = y_hat - y
    J = torch.mean(err ** 2)
    dJdy_hat = 2.0 * err / err.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = torch.mean(-y * torch.log(y_hat) - (1 - y) * torch.log(1 - y_hat))
    dJdy_hat = (-(y / y_hat) + (1 - y) / (1 - y_hat)) / y.numel()
    return J, dJdy_hat
