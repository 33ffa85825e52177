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

    def forward(self, x):
        def act(name, z):
            if name == 'relu':
                return torch.relu(z)
            elif name == 'sigmoid':
                return torch.sigmoid(z)
            return z

        z1 = x @ self.parameters['W1'].T + self.parameters['b1']
        z2 = act(self.f_function, z1)
        z3 = z2 @ self.parameters['W2'].T + self.parameters['b2']
        y_hat = act(self.g_function, z3)
        self.cache['x'] = x
        self.cache['z1'] = z1
        self.cache['z2'] = z2
        self.cache['z3'] = z3
        self.cache['y_hat'] = y_hat
        return y_hat

    def backward(self, dJdy_hat):
        def dact(name, z, out):
            if name == 'relu':
                return (z > 0).to(z.dtype)
            elif name == 'sigmoid':
                return out * (1 - out)
            return torch.ones_like(z)

        z2 = self.cache['z2']
        dz3 = dJdy_hat * dact(self.g_function, self.cache['z3'], self.cache['y_hat'])
        dz1 = (dz3 @ self.parameters['W2']) * dact(self.f_function, self.cache['z1'], z2)
        self.grads['dJdW2'] = dz3.T @ z2
        self.grads['dJdb2'] = dz3.sum(0)
        self.grads['dJdW1'] = dz1.T @ self.cache['x']
        self.grads['dJdb1'] = dz1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = ((y_hat - y) ** 2).mean()
    dJdy_hat = 2 * (y_hat - y) / y.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    # J = -mean( y log(y_hat) + (1 - y) log(1 - y_hat) )
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    # d/dy_hat of  y log(y_hat) + (1 - y) log(1 - y_hat)  is  y / y_hat - (1 - y) / (1 - y_hat)
    dJdy_hat = (y / y_hat - (1 - y) / (1 - y_hat)) / y.numel()
    return J, dJdy_hat
