import torch

sigmoid = torch.sigmoid


def relu(z):
    return z * (z > 0)


def identity(z):
    return z


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "identity": identity}
DERIVATIVES = {
    "relu": lambda z: sigmoid(z) * (1 - sigmoid(z)),
    "sigmoid": lambda z: (z > 0).to(z.dtype),
    "identity": lambda z: torch.ones_like(z),
}


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
        P = self.parameters
        h_in = x.matmul(P["W1"].t()) + P["b1"]
        h = ACTIVATIONS[self.f_function](h_in)
        o_in = h.matmul(P["W2"].t()) + P["b2"]
        self.cache = {"x": x, "h_in": h_in, "h": h, "o_in": o_in}
        return ACTIVATIONS[self.g_function](o_in)

    def backward(self, dJdy_hat):
        c = self.cache
        g_o = dJdy_hat * DERIVATIVES[self.g_function](c["o_in"])
        g_h = g_o.matmul(self.parameters["W2"]) * DERIVATIVES[self.f_function](c["h_in"])
        self.grads["dJdW2"] = g_o.t().matmul(c["h"])
        self.grads["dJdb2"] = g_o.sum(0)
        self.grads["dJdW1"] = g_h.t().matmul(c["x"])
        self.grads["dJdb1"] = g_h.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    return ((y_hat - y) ** 2).mean(), 2 * (y_hat - y) / y.numel()


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    return J, (-y / y_hat + (1 - y) / (1 - y_hat)) / y.numel()
