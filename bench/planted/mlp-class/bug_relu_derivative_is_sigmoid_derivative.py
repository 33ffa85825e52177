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

    def activation(self, name, z):
        if name == "relu":
            return z.clamp(min=0)
        elif name == "sigmoid":
            return z.sigmoid()
        elif name == "identity":
            return z
        raise ValueError(name)

    def activation_backward(self, name, z):
        if name == "relu":
            return z.sigmoid() * (1 - z.sigmoid())
        elif name == "sigmoid":
            return z.sigmoid() * (1 - z.sigmoid())
        elif name == "identity":
            return torch.ones_like(z)
        raise ValueError(name)

    def forward(self, x):
        z1 = torch.matmul(x, self.parameters["W1"].T) + self.parameters["b1"]
        z2 = self.activation(self.f_function, z1)
        z3 = torch.matmul(z2, self.parameters["W2"].T) + self.parameters["b2"]
        y_hat = self.activation(self.g_function, z3)
        self.cache = {"x": x, "z1": z1, "z2": z2, "z3": z3}
        return y_hat

    def backward(self, dJdy_hat):
        dz3 = dJdy_hat * self.activation_backward(self.g_function, self.cache["z3"])
        self.grads["dJdW2"] = torch.matmul(dz3.T, self.cache["z2"])
        self.grads["dJdb2"] = torch.sum(dz3, dim=0)
        dz2 = torch.matmul(dz3, self.parameters["W2"])
        dz1 = dz2 * self.activation_backward(self.f_function, self.cache["z1"])
        self.grads["dJdW1"] = torch.matmul(dz1.T, self.cache["x"])
        self.grads["dJdb1"] = torch.sum(dz1, dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    loss = torch.mean(torch.square(y_hat - y))
    return loss, 2 * (y_hat - y) / torch.numel(y)


def bce_loss(y, y_hat):
    loss = -torch.mean(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat))
    return loss, (-y / y_hat + (1 - y) / (1 - y_hat)) / torch.numel(y)
