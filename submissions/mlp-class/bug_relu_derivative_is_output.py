# Homework 1 - mlp.py
import torch


class MLP:
    def __init__(
        self,
        linear_1_in_features,
        linear_1_out_features,
        f_function,
        linear_2_in_features,
        linear_2_out_features,
        g_function
    ):
        self.f_function = f_function
        self.g_function = g_function

        self.parameters = dict(
            W1 = torch.randn(linear_1_out_features, linear_1_in_features),
            b1 = torch.randn(linear_1_out_features),
            W2 = torch.randn(linear_2_out_features, linear_2_in_features),
            b2 = torch.randn(linear_2_out_features),
        )
        self.grads = dict(
            dJdW1 = torch.zeros(linear_1_out_features, linear_1_in_features),
            dJdb1 = torch.zeros(linear_1_out_features),
            dJdW2 = torch.zeros(linear_2_out_features, linear_2_in_features),
            dJdb2 = torch.zeros(linear_2_out_features),
        )

        # put all the cache value you need in self.cache
        self.cache = dict()

    @staticmethod
    def _f(name, z):
        if name == 'relu':
            return torch.relu(z)
        if name == 'sigmoid':
            return torch.sigmoid(z)
        return z

    @staticmethod
    def _df(name, out):
        """local derivative, written in terms of the activation's OUTPUT"""
        if name == 'relu':
            # relu'(z) is "on" exactly where relu(z) is positive, so use the output
            return out
        if name == 'sigmoid':
            return out * (1 - out)
        return torch.ones_like(out)

    def forward(self, x):
        p = self.parameters
        z1 = x @ p['W1'].T + p['b1']
        h = self._f(self.f_function, z1)
        z2 = h @ p['W2'].T + p['b2']
        y_hat = self._f(self.g_function, z2)
        self.cache = dict(x=x, h=h, y_hat=y_hat)
        return y_hat

    def backward(self, dJdy_hat):
        x, h, y_hat = self.cache['x'], self.cache['h'], self.cache['y_hat']
        dz2 = dJdy_hat * self._df(self.g_function, y_hat)
        dh = dz2 @ self.parameters['W2']
        dz1 = dh * self._df(self.f_function, h)
        self.grads['dJdW2'] = dz2.T @ h
        self.grads['dJdb2'] = dz2.sum(dim=0)
        self.grads['dJdW1'] = dz1.T @ x
        self.grads['dJdb1'] = dz1.sum(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    n = y.numel()
    J = torch.sum((y_hat - y) ** 2) / n
    return J, 2 * (y_hat - y) / n


def bce_loss(y, y_hat):
    n = y.numel()
    J = -torch.sum(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)) / n
    return J, (y_hat - y) / (y_hat * (1 - y_hat) * n)
