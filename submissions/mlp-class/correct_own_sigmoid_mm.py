import torch
import math


def my_sigmoid(t):
    return 1.0 / (1.0 + torch.exp(-t))


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
        assert f_function in ('relu', 'sigmoid', 'identity')
        assert g_function in ('relu', 'sigmoid', 'identity')
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

    def _apply(self, which, z):
        if which == 'relu':
            return torch.where(z > 0, z, torch.zeros_like(z))
        if which == 'sigmoid':
            return my_sigmoid(z)
        return z

    def _local_grad(self, which, z, out):
        # out = activation(z); the sigmoid derivative is nicest in terms of the output
        if which == 'relu':
            return torch.where(z > 0, torch.ones_like(z), torch.zeros_like(z))
        if which == 'sigmoid':
            return out * (1.0 - out)
        return torch.ones_like(z)

    def forward(self, x):
        """
        Args:
            x: tensor shape (batch_size, linear_1_in_features)
        """
        self.cache['input'] = x
        lin1 = torch.mm(x, self.parameters['W1'].t()) + self.parameters['b1'].unsqueeze(0)
        self.cache['lin1'] = lin1
        hidden = self._apply(self.f_function, lin1)
        self.cache['hidden'] = hidden
        lin2 = torch.mm(hidden, self.parameters['W2'].t()) + self.parameters['b2'].unsqueeze(0)
        self.cache['lin2'] = lin2
        out = self._apply(self.g_function, lin2)
        self.cache['out'] = out
        return out

    def backward(self, dJdy_hat):
        """
        Args:
            dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
        """
        C = self.cache
        g_lin2 = dJdy_hat * self._local_grad(self.g_function, C['lin2'], C['out'])
        # transpose trick: compute (in, out) then flip back to the (out, in) layout of W
        self.grads['dJdW2'] = torch.mm(C['hidden'].t(), g_lin2).t()
        self.grads['dJdb2'] = torch.sum(g_lin2, dim=0)
        g_hidden = torch.mm(g_lin2, self.parameters['W2'])
        g_lin1 = g_hidden * self._local_grad(self.f_function, C['lin1'], C['hidden'])
        self.grads['dJdW1'] = torch.mm(C['input'].t(), g_lin1).t()
        self.grads['dJdb1'] = torch.sum(g_lin1, dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    """
    Return:
        J: scalar of loss
        dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
    """
    m = y.shape[0] * y.shape[1]
    J = torch.sum((y - y_hat) ** 2) / m
    dJdy_hat = -2.0 * (y - y_hat) / m
    return J, dJdy_hat


def bce_loss(y, y_hat):
    eps = 1e-12  # avoid log(0)
    m = y.shape[0] * y.shape[1]
    p = torch.clamp(y_hat, eps, 1 - eps)
    J = -torch.sum(y * torch.log(p) + (1 - y) * torch.log(1 - p)) / m
    dJdy_hat = (p - y) / (p * (1 - p)) / m
    return J, dJdy_hat
