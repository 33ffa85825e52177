import torch


def act(fn, z):
    if fn == "relu":
        return torch.relu(z)
    if fn == "sigmoid":
        return torch.sigmoid(z)
    return z


def act_deriv(fn, z):
    if fn == "relu":
        return (z > 0).to(z.dtype)
    if fn == "sigmoid":
        sz = torch.sigmoid(z)
        return sz * (1 - sz)
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
        z1 = x @ self.parameters["W1"].T + self.parameters["b1"]
        z2 = act(self.f_function, z1)
        z3 = z2 @ self.parameters["W2"].T + self.parameters["b2"]
        self.cache["x"], self.cache["z1"], self.cache["z2"], self.cache["z3"] = x, z1, z2, z3
        return act(self.g_function, z3)

    def backward(self, dJdy_hat):
        x, z1, z2, z3 = self.cache["x"], self.cache["z1"], self.cache["z2"], self.cache["z3"]
        batch_size = x.shape[0]
        dJdz3 = dJdy_hat * act_deriv(self.g_function, z3)
        dJdz1 = (dJdz3 @ self.parameters["W2"]) * act_deriv(self.f_function, z1)
        # gradients are averaged over the batch
        self.grads["dJdW2"] = dJdz3.T @ z2 / batch_size
        self.grads["dJdb2"] = dJdz3.sum(0) / batch_size
        self.grads["dJdW1"] = dJdz1.T @ x / batch_size
        self.grads["dJdb1"] = dJdz1.sum(0) / batch_size

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = torch.mean((y_hat - y) ** 2)
    dJdy_hat = 2 * (y_hat - y) / y.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = torch.mean(-y * torch.log(y_hat) - (1 - y) * torch.log(1 - y_hat))
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / y.numel()
    return J, dJdy_hat
