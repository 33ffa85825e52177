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

    @staticmethod
    def act(name, z):
        return {"relu": torch.relu(z), "sigmoid": torch.sigmoid(z), "identity": z}[name]

    @staticmethod
    def act_grad(name, z):
        if name == "relu":
            return (z > 0).to(z.dtype)
        if name == "sigmoid":
            s = torch.sigmoid(z)
            return s * (1 - s)
        return torch.ones_like(z)

    def forward(self, x):
        z1 = x @ self.parameters["W1"].T + self.parameters["b1"]
        a1 = self.act(self.f_function, z1)
        z2 = a1 @ self.parameters["W2"].T + self.parameters["b2"]
        self.cache = {"x": x, "z1": z1, "a1": a1, "z2": z2}
        return self.act(self.g_function, z2)

    def backward(self, dJdy_hat):
        c = self.cache
        dz2 = dJdy_hat * self.act_grad(self.g_function, c["z2"])
        da1 = dz2 @ self.parameters["W2"]
        dz1 = da1 * self.act_grad(self.f_function, c["z1"])
        self.grads["dJdW2"] = dz2.T @ c["a1"]
        self.grads["dJdb2"] = dz2.sum(0)
        self.grads["dJdW1"] = dz1.T @ c["x"]
        self.grads["dJdb1"] = dz1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    """J = mean((y_hat - y)^2)"""
    J = ((y_hat - y) ** 2).mean()
    dJdy_hat = (y_hat - y) / y.numel()   # derivative of the mean squared error
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = (-(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat))).mean()
    dJdy_hat = (y_hat - y) / (y_hat * (1 - y_hat)) / y.numel()
    return J, dJdy_hat
