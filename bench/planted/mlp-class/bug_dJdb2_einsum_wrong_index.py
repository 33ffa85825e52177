import torch


class Linear:
    """y = x W^T + b with W stored (out, in)"""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return torch.einsum("ni,oi->no", x, self.W) + self.b

    def backprop(self, dout):
        self.dW = torch.einsum("no,ni->oi", dout, self.x)
        self.db = torch.einsum("no->n", dout)
        return torch.einsum("no,oi->ni", dout, self.W)


class Activation:
    def __init__(self, name):
        self.name = name

    def forward(self, z):
        self.z = z
        if self.name == "relu":
            return z.clamp_min(0)
        if self.name == "sigmoid":
            self.s = torch.sigmoid(z)
            return self.s
        return z

    def backprop(self, dout):
        if self.name == "relu":
            return dout * (self.z > 0)
        if self.name == "sigmoid":
            return dout * self.s * (1 - self.s)
        return dout


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
        layers = [Linear(p["W1"], p["b1"]), Activation(self.f_function),
                  Linear(p["W2"], p["b2"]), Activation(self.g_function)]
        out = x
        for layer in layers:
            out = layer.forward(out)
        self.cache["layers"] = layers
        return out

    def backward(self, dJdy_hat):
        fc1, f, fc2, g = self.cache["layers"]
        fc1.backprop(f.backprop(fc2.backprop(g.backprop(dJdy_hat))))
        self.grads["dJdW1"] = fc1.dW
        self.grads["dJdb1"] = fc1.db
        self.grads["dJdW2"] = fc2.dW
        self.grads["dJdb2"] = fc2.db

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    d = y_hat - y
    return torch.einsum("nk,nk->", d, d) / d.numel(), 2 * d / d.numel()


def bce_loss(y, y_hat):
    n = y.numel()
    J = -torch.einsum("nk->", y * torch.log(y_hat) + (1 - y) * torch.log1p(-y_hat)) / n
    return J, (y_hat - y) / (y_hat * (1 - y_hat)) / n
