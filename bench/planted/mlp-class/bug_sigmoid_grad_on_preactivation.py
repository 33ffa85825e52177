import torch


def sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))


def d_sigmoid(s):
    return s * (1 - s)


def relu(z):
    return torch.clamp(z, min=0)


def d_relu(z):
    return (z > 0).to(z.dtype)


def identity(z):
    return z


def d_identity(z):
    return torch.ones_like(z)


FN = {"relu": (relu, d_relu), "sigmoid": (sigmoid, d_sigmoid), "identity": (identity, d_identity)}


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
        f, _ = FN[self.f_function]
        g, _ = FN[self.g_function]
        s1 = x @ self.parameters["W1"].T + self.parameters["b1"]
        a1 = f(s1)
        s2 = a1 @ self.parameters["W2"].T + self.parameters["b2"]
        self.cache = dict(x=x, s1=s1, a1=a1, s2=s2)
        return g(s2)

    def backward(self, dJdy_hat):
        _, df = FN[self.f_function]
        _, dg = FN[self.g_function]
        c = self.cache
        delta2 = dJdy_hat * dg(c["s2"])
        delta1 = delta2 @ self.parameters["W2"] * df(c["s1"])
        self.grads["dJdW2"] = delta2.T @ c["a1"]
        self.grads["dJdb2"] = delta2.sum(0)
        self.grads["dJdW1"] = delta1.T @ c["x"]
        self.grads["dJdb1"] = delta1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = torch.mean((y - y_hat) ** 2)
    dJdy_hat = 2 * (y_hat - y) / y.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = torch.mean(-(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)))
    dJdy_hat = (y_hat - y) / (y_hat * (1 - y_hat)) / y.numel()
    return J, dJdy_hat
