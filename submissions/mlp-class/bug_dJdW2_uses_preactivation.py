import torch


def _sigmoid(z):
    return torch.sigmoid(z)


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

    def nonlin(self, which, s):
        if which == 'relu':
            return s.clamp(min=0)
        if which == 'sigmoid':
            return _sigmoid(s)
        return s

    def nonlin_grad(self, which, s):
        if which == 'relu':
            return (s > 0).type(s.dtype)
        if which == 'sigmoid':
            return _sigmoid(s) * (1 - _sigmoid(s))
        return torch.ones_like(s)

    def forward(self, x):
        W1, b1 = self.parameters['W1'], self.parameters['b1']
        W2, b2 = self.parameters['W2'], self.parameters['b2']
        s1 = x.matmul(W1.T) + b1
        h = self.nonlin(self.f_function, s1)
        s2 = h.matmul(W2.T) + b2
        out = self.nonlin(self.g_function, s2)
        self.cache['x'] = x
        self.cache['s1'] = s1
        self.cache['h'] = h
        self.cache['s2'] = s2
        return out

    def backward(self, dJdy_hat):
        x, s1, s2 = self.cache['x'], self.cache['s1'], self.cache['s2']
        ds2 = dJdy_hat * self.nonlin_grad(self.g_function, s2)
        # s2 = s1 W2^T + b2  =>  dJ/dW2 = ds2^T s1
        self.grads['dJdW2'] = ds2.T.matmul(s1)
        self.grads['dJdb2'] = ds2.sum(dim=0)
        ds1 = ds2.matmul(self.parameters['W2']) * self.nonlin_grad(self.f_function, s1)
        self.grads['dJdW1'] = ds1.T.matmul(x)
        self.grads['dJdb1'] = ds1.sum(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    J = torch.mean(torch.square(y_hat - y))
    dJdy_hat = 2 * (y_hat - y) / y.numel()
    return J, dJdy_hat


def bce_loss(y, y_hat):
    J = torch.mean(-(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)))
    dJdy_hat = (y_hat - y) / (y_hat - y_hat ** 2) / y.numel()
    return J, dJdy_hat
