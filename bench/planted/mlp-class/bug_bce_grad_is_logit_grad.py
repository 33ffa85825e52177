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
        acts = {"relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda v: v}
        z1 = x @ self.parameters["W1"].T + self.parameters["b1"]
        z2 = acts[self.f_function](z1)
        z3 = z2 @ self.parameters["W2"].T + self.parameters["b2"]
        y_hat = acts[self.g_function](z3)
        self.cache = {"x": x, "z1": z1, "z2": z2, "z3": z3, "y_hat": y_hat}
        return y_hat

    def _d(self, name, z, out):
        if name == "relu":
            return (z > 0).to(z.dtype)
        if name == "sigmoid":
            return out * (1 - out)
        return torch.ones_like(z)

    def backward(self, dJdy_hat):
        c = self.cache
        dJdz3 = dJdy_hat * self._d(self.g_function, c["z3"], c["y_hat"])
        dJdz1 = (dJdz3 @ self.parameters["W2"]) * self._d(self.f_function, c["z1"], c["z2"])
        self.grads["dJdW2"] = dJdz3.T @ c["z2"]
        self.grads["dJdb2"] = dJdz3.sum(0)
        self.grads["dJdW1"] = dJdz1.T @ c["x"]
        self.grads["dJdb1"] = dJdz1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = ((y_hat - y) ** 2).mean()
    return J, 2 * (y_hat - y) / y.numel()


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    # the nice simplification from lecture: sigmoid + BCE gives y_hat - y
    dJdy_hat = (y_hat - y) / y.numel()
    return J, dJdy_hat
