"""HW1 mlp.py -- student version"""
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

    def _act(self, fn, z):
        if fn == 'relu':
            return torch.relu(z)
        elif fn == 'sigmoid':
            return torch.sigmoid(z)
        else:
            return z

    def _dact(self, fn, z):
        if fn == 'relu':
            return torch.where(z > 0, 1.0, 0.0).to(z.dtype)
        elif fn == 'sigmoid':
            return torch.sigmoid(z) * (1 - torch.sigmoid(z))
        else:
            return torch.ones_like(z)

    def forward(self, x):
        """
        Args:
            x: tensor shape (batch_size, linear_1_in_features)
        """
        self.cache['x'] = x
        self.cache['z1'] = x @ self.parameters['W1'].T + self.parameters['b1']
        self.cache['z2'] = self._act(self.f_function, self.cache['z1'])
        self.cache['z3'] = self.cache['z2'] @ self.parameters['W2'].T + self.parameters['b2']
        y_hat = self._act(self.g_function, self.cache['z3'])
        return y_hat

    def backward(self, dJdy_hat):
        """
        Args:
            dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
        """
        dJdz3 = dJdy_hat * self._dact(self.g_function, self.cache['z3'])
        self.grads['dJdW2'] = dJdz3.T @ self.cache['z2']
        self.grads['dJdb2'] = dJdz3          # dz3/db2 = 1
        dJdz2 = dJdz3 @ self.parameters['W2']
        dJdz1 = dJdz2 * self._dact(self.f_function, self.cache['z1'])
        self.grads['dJdW1'] = dJdz1.T @ self.cache['x']
        self.grads['dJdb1'] = dJdz1          # dz1/db1 = 1

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
    J = torch.mean((y_hat - y) ** 2)
    dJdy_hat = 2 * (y_hat - y) / torch.numel(y)
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = torch.mean(-y * torch.log(y_hat) - (1 - y) * torch.log(1 - y_hat))
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / torch.numel(y)
    return J, dJdy_hat
