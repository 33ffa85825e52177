import torch

ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda z: z}


def grad_of(name, z):
    if name == "relu":
        return (z > 0).float().double()
    if name == "sigmoid":
        return torch.sigmoid(z) * (1 - torch.sigmoid(z))
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
        p = self.parameters
        z1 = x @ p["W1"].T + p["b1"]
        a1 = ACT[self.f_function](z1)
        z2 = a1 @ p["W2"].T + p["b2"]
        self.cache.update(x=x, z1=z1, a1=a1, z2=z2)
        return ACT[self.g_function](z2)

    def backward(self, dJdy_hat):
        c = self.cache
        dz2 = dJdy_hat * grad_of(self.g_function, c["z2"])
        da1 = dz2 @ self.parameters["W2"]
        dz1 = da1 * grad_of(self.f_function, c["a1"])
        self.grads["dJdW2"] = dz2.T @ c["a1"]
        self.grads["dJdb2"] = dz2.sum(0)
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
    return J, (y_hat - y) / (y_hat * (1 - y_hat)) / y.numel()
