#!/usr/bin/env python
# CS224n a2 word2vec.py with one mistake: y - y_hat instead of y_hat - y: both gradients have the opposite sign.

import numpy as np


def softmax(x):
    """Compute the softmax function for each row of the input x (1-D or 2-D)."""
    orig_shape = x.shape
    if len(x.shape) > 1:
        x = x - np.max(x, axis=1, keepdims=True)
        x = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
    else:
        x = x - np.max(x)
        x = np.exp(x) / np.sum(np.exp(x))
    assert x.shape == orig_shape
    return x


def sigmoid(x):
    """
    Compute the sigmoid function for the input here.
    Arguments:
    x -- A scalar or numpy array.
    Return:
    s -- sigmoid(x)
    """
    ### YOUR CODE HERE (~1 Line)
    s = 1 / (1 + np.exp(-x))
    ### END YOUR CODE
    return s


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    """Naive Softmax loss & gradient function for word2vec models

    centerWordVec -- (word vector length,)                 (v_c in the pdf handout)
    outsideWordIdx -- integer, the index of the outside word (o of u_o)
    outsideVectors -- (num words in vocab, word vector length) (transpose of U in the pdf handout)
    dataset -- needed for negative sampling, unused here.
    """
    ### YOUR CODE HERE (~6-8 Lines)
    y_hat = softmax(np.dot(outsideVectors, centerWordVec))
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    loss = -np.log(y_hat[outsideWordIdx])
    gradCenterVec = np.dot(outsideVectors.T, y - y_hat)
    gradOutsideVecs = np.dot((y - y_hat)[:, np.newaxis], centerWordVec[np.newaxis, :])
    ### END YOUR CODE
    return loss, gradCenterVec, gradOutsideVecs


if __name__ == "__main__":
    np.random.seed(0)
    v, U = np.random.randn(3), np.random.randn(5, 3)
    print(naiveSoftmaxLossAndGradient(v, 2, U, None))
