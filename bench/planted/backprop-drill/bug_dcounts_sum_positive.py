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

# My backward pass. Shapes: n = batch, V = vocab, H = hidden.

# In[6]:


# loss = -mean_i logprobs[i, Yb[i]]
dlogprobs = torch.zeros_like(logprobs)  # (n, V)
dlogprobs[range(n), Yb] = -1.0 / n
# logprobs = log(probs)
dprobs = dlogprobs * probs**-1  # (n, V)
# probs = counts * counts_sum_inv, counts_sum_inv is (n, 1) broadcast over V
dcounts_sum_inv = (dprobs * counts).sum(dim=1, keepdim=True)  # (n, 1)
dcounts = dprobs * counts_sum_inv  # first use of counts
# counts_sum_inv = counts_sum ** -1
dcounts_sum = counts_sum**-2 * dcounts_sum_inv  # (n, 1)
# counts_sum = counts.sum(1): second use of counts
dcounts = dcounts + dcounts_sum * torch.ones_like(counts)
# counts = exp(norm_logits)
dnorm_logits = dcounts * counts  # (n, V)
# norm_logits = logits - logit_maxes
dlogit_maxes = -(dnorm_logits.sum(dim=1, keepdim=True))  # (n, 1), ~0
dlogits = dnorm_logits.clone()
maxpos = logits.max(dim=1).indices
dlogits[range(n), maxpos] += dlogit_maxes[:, 0]
print("cross entropy done", dlogits.shape, dlogit_maxes.abs().max().item())


# In[7]:


# logits = h @ W2 + b2
dh = dlogits @ W2.T  # (n, H)
dW2 = h.T @ dlogits  # (H, V)
db2 = dlogits.sum(dim=0)  # (V,)
# h = tanh(hpreact)
dhpreact = dh * (1.0 - h * h)  # (n, H)
print("layer 2 done", dh.shape, dW2.shape, db2.shape)


# In[8]:


# hpreact = bngain * bnraw + bnbias
dbngain = (dhpreact * bnraw).sum(dim=0, keepdim=True)  # (1, H)
dbnbias = dhpreact.sum(dim=0, keepdim=True)  # (1, H)
dbnraw = dhpreact * bngain  # (n, H)
# bnraw = bndiff * bnvar_inv
dbndiff = dbnraw * bnvar_inv  # first use of bndiff
dbnvar_inv = (dbnraw * bndiff).sum(dim=0, keepdim=True)  # (1, H)
# bnvar_inv = (bnvar + eps) ** -0.5
dbnvar = -0.5 * (bnvar + 1e-5) ** (-1.5) * dbnvar_inv  # (1, H)
# bnvar = 1/(n-1) * bndiff2.sum(0)
dbndiff2 = torch.ones_like(bndiff2) * dbnvar / (n - 1)  # (n, H)
# bndiff2 = bndiff ** 2: second use of bndiff
dbndiff = dbndiff + 2.0 * bndiff * dbndiff2
# bndiff = hprebn - bnmeani
dbnmeani = -dbndiff.sum(dim=0, keepdim=True)  # (1, H)
dhprebn = dbndiff.clone()  # first use of hprebn
# bnmeani = 1/n * hprebn.sum(0): second use of hprebn
dhprebn = dhprebn + torch.ones_like(hprebn) * dbnmeani / n
print("batchnorm done", dhprebn.shape)


# In[9]:


# hprebn = embcat @ W1 + b1
dembcat = dhprebn @ W1.T  # (n, block_size * n_embd)
dW1 = embcat.T @ dhprebn  # (block_size * n_embd, H)
db1 = dhprebn.sum(dim=0)  # (H,)
# embcat = emb.view(n, -1)
demb = dembcat.view(n, block_size, n_embd)
# emb = C[Xb]
dC = torch.zeros_like(C)
for i in range(n):
    for j in range(block_size):
        dC[Xb[i, j]] += demb[i, j]
print("layer 1 done", dW1.shape, dC.shape)
