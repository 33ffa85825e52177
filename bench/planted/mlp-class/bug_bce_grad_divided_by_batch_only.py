import numpy as np
import torch


def _act(name, z):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    return z


def _dact(name, z, a):
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "sigmoid":
        return a * (1.0 - a)
    return np.ones_like(z)


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

    def _np_params(self):
        return [np.asarray(self.parameters[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2")]

    def forward(self, x):
        W1, b1, W2, b2 = self._np_params()
        x = np.asarray(x, dtype=np.float64)
        z1 = x.dot(W1.T) + b1
        a1 = _act(self.f_function, z1)
        z2 = a1.dot(W2.T) + b2
        a2 = _act(self.g_function, z2)
        self.cache = dict(x=x, z1=z1, a1=a1, z2=z2, a2=a2)
        return torch.from_numpy(a2)

    def backward(self, dJdy_hat):
        c = self.cache
        _, _, W2, _ = self._np_params()
        d2 = np.asarray(dJdy_hat, dtype=np.float64) * _dact(self.g_function, c["z2"], c["a2"])
        d1 = d2.dot(W2) * _dact(self.f_function, c["z1"], c["a1"])
        grads = {
            "dJdW2": d2.T.dot(c["a1"]),
            "dJdb2": d2.sum(axis=0),
            "dJdW1": d1.T.dot(c["x"]),
            "dJdb1": d1.sum(axis=0),
        }
        self.grads = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in grads.items()}

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    y, y_hat = y.numpy(), y_hat.numpy()
    J = np.mean((y_hat - y) ** 2)
    return torch.tensor(J), torch.from_numpy(2 * (y_hat - y) / y.size)


def bce_loss(y, y_hat):
    y, y_hat = y.numpy(), y_hat.numpy()
    J = -np.mean(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))
    return torch.tensor(J), torch.from_numpy((y_hat - y) / (y_hat * (1 - y_hat)) / y.shape[0])
