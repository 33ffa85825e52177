# mlp.py, hw1
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

    def _g(self, kind, v):
        if kind == "sigmoid":
            return torch.sigmoid(v)
        if kind == "relu":
            return torch.relu(v)
        return v

    def _g_prime(self, kind, v):
        if kind == "sigmoid":
            sv = torch.sigmoid(v)
            return sv * (1.0 - sv)
        if kind == "relu":
            return (v > 0).to(v.dtype)
        return torch.ones_like(v)

    def forward(self, x):
        P = self.parameters
        self.cache["in"] = x
        self.cache["lin1"] = x @ P["W1"].T + P["b1"]
        self.cache["act1"] = self._g(self.f_function, self.cache["lin1"])
        self.cache["lin2"] = self.cache["act1"] @ P["W2"].T + P["b2"]
        return self._g(self.g_function, self.cache["lin2"])

    def backward(self, dJdy_hat):
        C = self.cache
        d_lin2 = dJdy_hat * self._g_prime(self.g_function, C["lin2"])
        d_lin1 = (d_lin2 @ self.parameters["W2"]) * self._g_prime(self.f_function, C["lin1"])
        self.grads["dJdW2"] = d_lin2.T @ C["act1"]
        self.grads["dJdb2"] = d_lin2.sum(0)
        self.grads["dJdW1"] = d_lin1.T @ C["in"]
        self.grads["dJdb1"] = d_lin1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    batch_size = y.shape[0]
    # sum of squared errors of each example, averaged over the examples
    J = ((y_hat - y) ** 2).sum() / batch_size
    dJdy_hat = 2 * (y_hat - y) / batch_size
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    dJdy_hat = ((1 - y) / (1 - y_hat) - y / y_hat) / y.numel()
    return J, dJdy_hat
