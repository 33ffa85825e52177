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
        """
        Args:
            linear_1_in_features: the in features of first linear layer
            linear_1_out_features: the out features of first linear layer
            linear_2_in_features: the in features of second linear layer
            linear_2_out_features: the out features of second linear layer
            f_function: string for the f function: relu | sigmoid | identity
            g_function: string for the g function: relu | sigmoid | identity
        """
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

    def act(self, name, z):
        if name == 'relu':
            return torch.clamp(z, min=0)
        elif name == 'sigmoid':
            return 1 / (1 + torch.exp(-z))
        elif name == 'identity':
            return z
        else:
            raise ValueError('unknown function ' + name)

    def act_prime(self, name, z):
        # derivative wrt the INPUT of the activation
        if name == 'relu':
            return (z > 0).double()
        elif name == 'sigmoid':
            s = 1 / (1 + torch.exp(-z))
            return s * (1 - s)
        elif name == 'identity':
            return torch.ones_like(z)
        else:
            raise ValueError('unknown function ' + name)

    def forward(self, x):
        """
        Args:
            x: tensor shape (batch_size, linear_1_in_features)
        """
        W1, b1 = self.parameters['W1'], self.parameters['b1']
        W2, b2 = self.parameters['W2'], self.parameters['b2']

        s1 = x @ W1.t() + b1          # (batch, hidden)
        a1 = self.act(self.f_function, s1)
        s2 = a1 @ W2.t() + b2         # (batch, out)
        y_hat = self.act(self.g_function, s2)

        self.cache['x'] = x
        self.cache['s1'] = s1
        self.cache['a1'] = a1
        self.cache['s2'] = s2
        return y_hat

    def backward(self, dJdy_hat):
        """
        Args:
            dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
        """
        x, s1, a1, s2 = self.cache['x'], self.cache['s1'], self.cache['a1'], self.cache['s2']

        dJds2 = dJdy_hat * self.act_prime(self.g_function, s2)     # (batch, out)
        self.grads['dJdW2'] = dJds2.t() @ a1                        # (out, hidden)
        self.grads['dJdb2'] = dJds2.sum(0)

        dJda1 = dJds2 @ self.parameters['W2']                      # (batch, hidden)
        dJds1 = dJda1 * self.act_prime(self.f_function, s1)
        self.grads['dJdW1'] = dJds1.t() @ x                         # (hidden, in)
        self.grads['dJdb1'] = dJds1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    """
    Args:
        y: the label tensor (batch_size, linear_2_out_features)
        y_hat: the prediction tensor (batch_size, linear_2_out_features)

    Return:
        J: scalar of loss
        dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
    """
    loss = ((y_hat - y) ** 2).mean()
    dJdy_hat = 2 * (y_hat - y) / y.numel()
    return loss, dJdy_hat


def bce_loss(y, y_hat):
    """
    Args:
        y_hat: the prediction tensor
        y: the label tensor

    Return:
        loss: scalar of loss
        dJdy_hat: The gradient tensor of shape (batch_size, linear_2_out_features)
    """
    loss = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    dJdy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / y.numel()
    return loss, dJdy_hat
