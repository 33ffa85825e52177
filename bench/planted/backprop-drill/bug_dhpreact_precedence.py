#!/usr/bin/env python
# coding: utf-8

# # Becoming a backprop ninja
#
# We take the 2-layer MLP (with BatchNorm) from the makemore lectures and backpropagate through it
# **manually**, step by step, without `loss.backward()`.
#
# The network reads `block_size` characters of context, looks their embeddings up in `C`, concatenates
# them, and passes them through a linear layer, a batchnorm layer, a tanh, and a second linear layer;
# the loss is the cross-entropy with the next character, written out as many small steps.
#
# Everything is kept tiny (a 7-character vocabulary, a batch of 6) and in `float64`, so you can print
# every tensor and the grader can compare your gradients tightly.

# In[1]:


import torch
import torch.nn.functional as F


# ## Sizes

# In[2]:


vocab_size = 7  # number of characters
block_size = 3  # context length: how many characters we take to predict the next one
n_embd = 2  # the dimensionality of the character embedding vectors
n_hidden = 8  # the number of neurons in the hidden layer of the MLP
batch_size = 6


# ## Parameters
#
# Note: we initialise many of these parameters in non-standard ways, because sometimes initialising
# with e.g. all zeros could mask an incorrect implementation of the backward pass. Do not hard-code any
# of these numbers: the grader re-runs your notebook with other values.

# In[3]:


g = torch.Generator().manual_seed(2147483647)  # for reproducibility
C = torch.randn((vocab_size, n_embd), generator=g, dtype=torch.float64)
# Layer 1
W1 = (
    torch.randn((n_embd * block_size, n_hidden), generator=g, dtype=torch.float64)
    * (5 / 3)
    / ((n_embd * block_size) ** 0.5)
)
b1 = torch.randn(n_hidden, generator=g, dtype=torch.float64) * 0.1  # using b1 just for fun, it's useless because of BN
# Layer 2
W2 = torch.randn((n_hidden, vocab_size), generator=g, dtype=torch.float64) * 0.1
b2 = torch.randn(vocab_size, generator=g, dtype=torch.float64) * 0.1
# BatchNorm parameters
bngain = torch.randn((1, n_hidden), generator=g, dtype=torch.float64) * 0.1 + 1.0
bnbias = torch.randn((1, n_hidden), generator=g, dtype=torch.float64) * 0.1

parameters = [C, W1, b1, W2, b2, bngain, bnbias]
print(sum(p.nelement() for p in parameters), "parameters in total")


# ## A minibatch
#
# In the lecture `Xb`, `Yb` come from the names dataset; here they are random characters.

# In[4]:


Xb = torch.randint(0, vocab_size, (batch_size, block_size), generator=g)  # contexts
Yb = torch.randint(0, vocab_size, (batch_size,), generator=g)  # next characters
Xb, Yb


# ## Forward pass (given, do not edit)
#
# "Chunkated" into smaller steps that are possible to backward one at a time.

# In[5]:


n = Xb.shape[0]  # a shorter variable also, for convenience

emb = C[Xb]  # embed the characters into vectors
embcat = emb.view(emb.shape[0], -1)  # concatenate the vectors
# Linear layer 1
hprebn = embcat @ W1 + b1  # hidden layer pre-activation
# BatchNorm layer
bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
bndiff = hprebn - bnmeani
bndiff2 = bndiff**2
bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdim=True)  # note: Bessel's correction (dividing by n-1, not n)
bnvar_inv = (bnvar + 1e-5) ** -0.5
bnraw = bndiff * bnvar_inv
hpreact = bngain * bnraw + bnbias
# Non-linearity
h = torch.tanh(hpreact)  # hidden layer
# Linear layer 2
logits = h @ W2 + b2  # output layer
# cross entropy loss (same as F.cross_entropy(logits, Yb))
logit_maxes = logits.max(1, keepdim=True).values
norm_logits = logits - logit_maxes  # subtract max for numerical stability
counts = norm_logits.exp()
counts_sum = counts.sum(1, keepdim=True)
counts_sum_inv = counts_sum**-1  # if I use (1.0 / counts_sum) instead then I can't get backprop to be bit exact...
probs = counts * counts_sum_inv
logprobs = probs.log()
loss = -logprobs[range(n), Yb].mean()
loss


# ## Exercise 1: backprop through the whole thing manually
#
# Backpropagate through exactly all of the variables as they are defined in the forward pass above,
# one by one: for every `name` compute `dname`, the gradient of `loss` with respect to `name`, with
# the same shape as `name`. That includes `dC`, `dW1`, `db1`, `dW2`, `db2`, `dbngain`, `dbnbias`.

# In[6]:


# backward pass, all in one go
dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(n), Yb] = -1 / n
dprobs = dlogprobs / probs
dcounts_sum_inv = (dprobs * counts).sum(1, keepdim=True)
dcounts_sum = -dcounts_sum_inv / counts_sum**2
dcounts = dprobs * counts_sum_inv + dcounts_sum
dnorm_logits = dcounts * counts
dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)
dlogits = dnorm_logits + F.one_hot(logits.argmax(1), vocab_size) * dlogit_maxes
dh = dlogits @ W2.T
dW2 = h.T @ dlogits
db2 = dlogits.sum(0)
dhpreact = 1 - h**2 * dh
dbngain = (dhpreact * bnraw).sum(0, keepdim=True)
dbnbias = dhpreact.sum(0, keepdim=True)
dbnraw = dhpreact * bngain
dbnvar_inv = (dbnraw * bndiff).sum(0, keepdim=True)
dbnvar = dbnvar_inv * -0.5 * (bnvar + 1e-5) ** -1.5
dbndiff2 = dbnvar.expand_as(bndiff2) / (n - 1)
dbndiff = dbnraw * bnvar_inv + 2 * bndiff * dbndiff2
dbnmeani = -dbndiff.sum(0, keepdim=True)
dhprebn = dbndiff + dbnmeani / n
dembcat = dhprebn @ W1.T
dW1 = embcat.T @ dhprebn
db1 = dhprebn.sum(0)
demb = dembcat.view(n, block_size, n_embd)
dC = torch.zeros_like(C)
dC.index_add_(0, Xb.view(-1), demb.view(-1, n_embd))


# In[7]:


for name in ["dC", "dW1", "db1", "dW2", "db2", "dbngain", "dbnbias"]:
    print(f"{name:8s}", tuple(globals()[name].shape))
