import torch


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
        # short names for the backward pass
        self.W2 = self.parameters["W2"]
        self.cache = dict()

    def _act(self, name, z):
        return {"relu": torch.relu, "sigmoid": torch.sigmoid}.get(name, lambda t: t)(z)

    def _dact(self, name, z):
        if name == "relu":
            return (z > 0).to(z.dtype)
        if name == "sigmoid":
            return torch.sigmoid(z) * (1 - torch.sigmoid(z))
        return torch.ones_like(z)

    def forward(self, x):
        p = self.parameters
        z1 = x @ p["W1"].T + p["b1"]
        z2 = self._act(self.f_function, z1)
        z3 = z2 @ p["W2"].T + p["b2"]
        self.cache = dict(x=x, z1=z1, z2=z2, z3=z3)
        return self._act(self.g_function, z3)

    def backward(self, dJdy_hat):
        c = self.cache
        dz3 = dJdy_hat * self._dact(self.g_function, c["z3"])
        dz1 = (dz3 @ self.W2.to(dz3.dtype)) * self._dact(self.f_function, c["z1"])
        self.grads["dJdW2"] = dz3.T @ c["z2"]
        self.grads["dJdb2"] = dz3.sum(0)
        self.grads["dJdW1"] = dz1.T @ c["x"]
        self.grads["dJdb1"] = dz1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    return ((y_hat - y) ** 2).mean(), 2 * (y_hat - y) / y.numel()


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    return J, (-y / y_hat + (1 - y) / (1 - y_hat)) / y.numel()
