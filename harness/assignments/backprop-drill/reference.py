"""Reference computation for the ``backprop-drill`` assignment.

The forward pass of the course notebook (a character-level MLP: embedding table,
linear layer, batchnorm with Bessel's correction, tanh, linear layer, cross-entropy
written out step by step), op for op, so that every step the notebook names is a
quantity here: ``grad.<name>`` is d loss / d <name> by autograd and is what the
student's ``d<name>`` is compared with.

Keep this file and the "forward pass" cell of ``solution.ipynb`` identical: any
difference (``keepdim``, the order of a product, 1/n against 1/(n-1)) changes what
the student is asked to differentiate.
"""

import torch


def compute(Xb, Yb, C, W1, b1, W2, b2, bngain, bnbias):
    n = Xb.shape[0]  # batch size

    # embedding and the first linear layer
    emb = C[Xb]  # (n, block, n_embd)
    embcat = emb.view(emb.shape[0], -1)  # (n, block * n_embd)
    hprebn = embcat @ W1 + b1  # (n, n_hidden)

    # batchnorm, with Bessel's correction 1/(n-1) in the variance
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdim=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias

    # tanh and the second linear layer
    h = torch.tanh(hpreact)  # (n, n_hidden)
    logits = h @ W2 + b2  # (n, vocab_size)

    # cross-entropy, step by step
    logit_maxes = logits.max(1, keepdim=True).values  # d loss / d logit_maxes is ~0
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdim=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()

    return {
        "emb": emb,
        "embcat": embcat,
        "hprebn": hprebn,
        "bnmeani": bnmeani,
        "bndiff": bndiff,
        "bndiff2": bndiff2,
        "bnvar": bnvar,
        "bnvar_inv": bnvar_inv,
        "bnraw": bnraw,
        "hpreact": hpreact,
        "h": h,
        "logits": logits,
        "logit_maxes": logit_maxes,
        "norm_logits": norm_logits,
        "counts": counts,
        "counts_sum": counts_sum,
        "counts_sum_inv": counts_sum_inv,
        "probs": probs,
        "logprobs": logprobs,
        "loss": loss,
    }
