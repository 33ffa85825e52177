import torch

ACTS = {
    'relu': lambda z: torch.relu(z),
    'sigmoid': lambda z: torch.sigmoid(z),
    'identity': lambda z: z,
}


def local_grad(name, z):
    if name == 'relu':
        return (z > 0).to(z.dtype)
    if name == 'sigmoid':
        s = torch.sigmoid(z)
        return s * (1 - s)
    return torch.ones_like(z)


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
        W1, b1, W2, b2 = (self.parameters[k] for k in ('W1', 'b1', 'W2', 'b2'))
        pre1 = x @ W1.T + b1
        post1 = ACTS[self.f_function](pre1)
        pre2 = post1 @ W2.T + b2
        post2 = ACTS[self.g_function](pre2)
        self.cache.update({'x': x, 'pre1': pre1, 'post1': post1, 'pre2': pre2})
        return post2

    def backward(self, dJdy_hat):
        d_pre2 = dJdy_hat * local_grad(self.g_function, self.cache['pre2'])
        d_pre1 = (d_pre2 @ self.parameters['W2']) * local_grad(self.f_function, self.cache['pre1'])

        self.grads['dJdW2'] = d_pre2.T @ self.cache['post1']
        self.grads['dJdW1'] = d_pre1.T @ self.cache['x']
        # the bias is shared by every sample in the batch -> average it over the batch
        self.grads['dJdb2'] = d_pre2.mean(dim=0)
        self.grads['dJdb1'] = d_pre1.mean(dim=0)

    def clear_grad_and_cache(self):
        for grad in self.grads:
            self.grads[grad].zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    diff = y_hat - y
    return diff.pow(2).mean(), 2 * diff / diff.numel()


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    dJdy_hat = (y_hat - y) / (y_hat * (1 - y_hat)) / y.numel()
    return J, dJdy_hat
