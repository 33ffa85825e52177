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

    def _activate(self, kind, z):
        # in-place to save memory (TA said memory matters in later homeworks)
        if kind == "relu":
            return z.clamp_(min=0)
        if kind == "sigmoid":
            return z.sigmoid_()
        return z

    def _activate_prime(self, kind, z):
        if kind == "relu":
            return (z > 0).to(z.dtype)
        if kind == "sigmoid":
            s = torch.sigmoid(z)
            return s * (1 - s)
        return torch.ones_like(z)

    def forward(self, x):
        self.cache["x"] = x
        z1 = x @ self.parameters["W1"].T + self.parameters["b1"]
        self.cache["z1"] = z1
        z2 = self._activate(self.f_function, z1)
        self.cache["z2"] = z2
        z3 = z2 @ self.parameters["W2"].T + self.parameters["b2"]
        self.cache["z3"] = z3
        y_hat = self._activate(self.g_function, z3)
        return y_hat

    def backward(self, dJdy_hat):
        dJdz3 = dJdy_hat * self._activate_prime(self.g_function, self.cache["z3"])
        self.grads["dJdW2"] = dJdz3.T @ self.cache["z2"]
        self.grads["dJdb2"] = dJdz3.sum(dim=0)
        dJdz2 = dJdz3 @ self.parameters["W2"]
        dJdz1 = dJdz2 * self._activate_prime(self.f_function, self.cache["z1"])
        self.grads["dJdW1"] = dJdz1.T @ self.cache["x"]
        self.grads["dJdb1"] = dJdz1.sum(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = ((y - y_hat) ** 2).mean()
    dJdy_hat = 2 * (y_hat - y) / y.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).mean()
    dJdy_hat = ((1 - y) / (1 - y_hat) - y / y_hat) / y.numel()
    return J, dJdy_hat
