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

    def f(self, z, name):
        return {"relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda t: t}[name](z)

    def df(self, z, name):
        if name == "relu":
            return (z > 0) * 1.0
        if name == "sigmoid":
            return torch.sigmoid(z) * (1 - torch.sigmoid(z))
        return torch.ones_like(z)

    def forward(self, x):
        self.cache["x"] = x
        self.cache["z1"] = torch.matmul(x, self.parameters["W1"].T) + self.parameters["b1"]
        self.cache["z2"] = self.f(self.cache["z1"], self.f_function)
        self.cache["z3"] = torch.matmul(self.cache["z2"], self.parameters["W2"].T) + self.parameters["b2"]
        return self.f(self.cache["z3"], self.g_function)

    def backward(self, dJdy_hat):
        x = self.cache["x"]
        dz3 = dJdy_hat * self.df(self.cache["z3"], self.g_function)
        self.grads["dJdW2"] = torch.matmul(dz3.T, self.cache["z2"])
        self.grads["dJdb2"] = torch.sum(dz3, 0)
        dz1 = torch.matmul(dz3, self.parameters["W2"]) * self.df(self.cache["z1"], self.f_function)
        # same pattern as in the notes: dW = input^T @ delta
        self.grads["dJdW1"] = torch.matmul(x.T, dz1)
        self.grads["dJdb1"] = torch.sum(dz1, 0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    N = y.shape[0] * y.shape[1]
    J = ((y_hat - y) ** 2).sum() / N
    dJdy_hat = 2 / N * (y_hat - y)
    return J, dJdy_hat


def bce_loss(y, y_hat):
    N = y.shape[0] * y.shape[1]
    J = -((y * torch.log(y_hat)) + (1 - y) * torch.log(1 - y_hat)).sum() / N
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / N
    return J, dJdy_hat
