import torch


class MLP:
    def __init__(self, linear_1_in_features, linear_1_out_features, f_function,
                 linear_2_in_features, linear_2_out_features, g_function):
        self.f_function, self.g_function = f_function, g_function
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

    def _f(self, name, z):
        if name == "relu":
            out = z.clone()
            out[out < 0] = 0
            return out
        if name == "sigmoid":
            return 1 / (1 + torch.exp(-z))
        return z

    def _df(self, name, z, out):
        # derivative from the output where possible (cheaper)
        if name == "relu":
            return (z > 0).to(z.dtype)
        if name == "sigmoid":
            return 1 - out ** 2
        return torch.ones_like(z)

    def forward(self, x):
        z1 = x @ self.parameters["W1"].T + self.parameters["b1"]
        a1 = self._f(self.f_function, z1)
        z2 = a1 @ self.parameters["W2"].T + self.parameters["b2"]
        a2 = self._f(self.g_function, z2)
        self.cache = dict(x=x, z1=z1, a1=a1, z2=z2, a2=a2)
        return a2

    def backward(self, dJdy_hat):
        c = self.cache
        dz2 = dJdy_hat * self._df(self.g_function, c["z2"], c["a2"])
        dz1 = (dz2 @ self.parameters["W2"]) * self._df(self.f_function, c["z1"], c["a1"])
        self.grads["dJdW2"] = dz2.T @ c["a1"]
        self.grads["dJdb2"] = dz2.sum(0)
        self.grads["dJdW1"] = dz1.T @ c["x"]
        self.grads["dJdb1"] = dz1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    n = y.shape[0] * y.shape[1]
    J = ((y_hat - y) ** 2).sum() / n
    return J, 2 * (y_hat - y) / n


def bce_loss(y, y_hat):
    n = y.shape[0] * y.shape[1]
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).sum() / n
    return J, (-y / y_hat + (1 - y) / (1 - y_hat)) / n
