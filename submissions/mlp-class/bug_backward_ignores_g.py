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

    def activation(self, func, z):
        if func == 'relu':
            return torch.relu(z)
        if func == 'sigmoid':
            return torch.sigmoid(z)
        return z

    def activation_derivative(self, func, z):
        if func == 'relu':
            return (z > 0).to(z.dtype)
        if func == 'sigmoid':
            return torch.sigmoid(z) * (1 - torch.sigmoid(z))
        return torch.ones_like(z)

    def forward(self, x):
        """
        Args:
            x: tensor shape (batch_size, linear_1_in_features)
        """
        print('f =', self.f_function, ' g =', self.g_function)
        z1 = x @ self.parameters['W1'].T + self.parameters['b1']
        z2 = self.activation(self.f_function, z1)
        z3 = z2 @ self.parameters['W2'].T + self.parameters['b2']
        y_hat = self.activation(self.g_function, z3)
        self.cache['x'] = x
        self.cache['z1'] = z1
        self.cache['z2'] = z2
        self.cache['z3'] = z3
        return y_hat

    def backward(self, dJdy_hat):
        """
        Args:
            dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
        """
        # output layer
        dJdz3 = dJdy_hat
        self.grads['dJdW2'] = dJdz3.T @ self.cache['z2']
        self.grads['dJdb2'] = dJdz3.sum(dim=0)
        # hidden layer
        dJdz2 = dJdz3 @ self.parameters['W2']
        dJdz1 = dJdz2 * self.activation_derivative(self.f_function, self.cache['z1'])
        self.grads['dJdW1'] = dJdz1.T @ self.cache['x']
        self.grads['dJdb1'] = dJdz1.sum(dim=0)

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
    n = y.shape[0] * y.shape[1]
    J = ((y - y_hat) ** 2).sum() / n
    dJdy_hat = 2 * (y_hat - y) / n
    return J, dJdy_hat


def bce_loss(y, y_hat):
    n = y.shape[0] * y.shape[1]
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).sum() / n
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / n
    return J, dJdy_hat
