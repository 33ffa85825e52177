#!/usr/bin/env python
"""CS224n a2, word2vec.py -- naive softmax part."""

import numpy as np


def softmax(x):
    """Numerically stable softmax of a vector (the handout's utils.softmax, rewritten)."""
    x = x - np.max(x)
    exp_x = np.exp(x)
    return exp_x / np.sum(exp_x)


def sigmoid(x):
    """
    Compute the sigmoid function for the input here.
    Arguments:
    x -- A scalar or numpy array.
    Return:
    s -- sigmoid(x)
    """
    ### YOUR CODE HERE (~1 Line)
    s = 1.0 / (1.0 + np.exp(-x))
    ### END YOUR CODE
    return s


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    """Naive Softmax loss & gradient function for word2vec models"""
    ### YOUR CODE HERE (~6-8 Lines)
    y_hat = softmax(outsideVectors.dot(centerWordVec))
    loss = -np.log(y_hat[outsideWordIdx])
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1.0
    gradCenterVec = outsideVectors.T.dot(y_hat - y)
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec)
    ### END YOUR CODE
    return loss, gradCenterVec, gradOutsideVecs
