import torch

# activation functions and their derivatives (derivatives take the same argument as the function)
def sigmoid(z):
    return 1 / (1 + torch.exp(-z))

def d_sigmoid(z):
    return sigmoid(z) * (1 - sigmoid(z))

def relu(z):
    return torch.maximum(z, torch.zeros_like(z))

def d_relu(z):
    return (z > 0).to(z.dtype)

def identity(z):
    return z

def d_identity(z):
    return torch.ones_like(z)

F = {'relu': (relu, d_relu), 'sigmoid': (sigmoid, d_sigmoid), 'identity': (identity, d_identity)}


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
        f, _ = F[self.f_function]
        g, _ = F[self.g_function]
        self.cache['a0'] = x
        self.cache['a1'] = f(x @ self.parameters['W1'].T + self.parameters['b1'])
        self.cache['a2'] = g(self.cache['a1'] @ self.parameters['W2'].T + self.parameters['b2'])
        return self.cache['a2']

    def backward(self, dJdy_hat):
        _, df = F[self.f_function]
        _, dg = F[self.g_function]
        a0, a1, a2 = self.cache['a0'], self.cache['a1'], self.cache['a2']

        delta2 = dJdy_hat * dg(a2)          # (N, K)
        self.grads['dJdW2'] = delta2.T @ a1
        self.grads['dJdb2'] = delta2.sum(0)

        delta1 = (delta2 @ self.parameters['W2']) * df(a1)   # (N, H)
        self.grads['dJdW1'] = delta1.T @ a0
        self.grads['dJdb1'] = delta1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = torch.mean((y_hat - y) ** 2)
    dJdy_hat = 2 * (y_hat - y) / (y.shape[0] * y.shape[1])
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = torch.mean(-(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)))
    dJdy_hat = (1 / (y.shape[0] * y.shape[1])) * ((1 - y) / (1 - y_hat) - y / y_hat)
    return J, dJdy_hat
