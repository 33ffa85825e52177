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
        self.cache = dict()

    def forward(self, x):
        fs = dict(relu=torch.relu, sigmoid=torch.sigmoid, identity=torch.clone)
        self.cache["x"] = x
        self.cache["z1"] = z1 = torch.addmm(self.parameters["b1"], x, self.parameters["W1"].T)
        self.cache["a1"] = a1 = fs[self.f_function](z1)
        self.cache["z2"] = z2 = torch.addmm(self.parameters["b2"], a1, self.parameters["W2"].T)
        return fs[self.g_function](z2)

    @staticmethod
    def _grad(name, z):
        if name == "relu":
            return torch.where(z > 0, 1.0, 0.0).to(z.dtype)
        if name == "sigmoid":
            return torch.sigmoid(z) * (1 - torch.sigmoid(z))
        return torch.ones_like(z)

    def backward(self, dJdy_hat):
        c = self.cache
        d2 = dJdy_hat * self._grad(self.g_function, c["z2"])
        d1 = d2 @ self.parameters["W2"] * self._grad(self.f_function, c["z1"])
        self.grads["dJdW2"] = d2.T @ c["a1"]
        self.grads["dJdb2"] = d2.sum(0)
        self.grads["dJdW1"] = d1.T @ c["x"]
        self.grads["dJdb1"] = d1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    err = y - y_hat
    J = (err * err).mean()
    dJdy_hat = 2 * err / err.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    return J, (y_hat - y) / (y_hat * (1 - y_hat) * y.numel())
