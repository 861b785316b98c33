"""Milestone 5 (2017): a character-level GPT learns to answer TinyTalks questions.

"Attention is all you need" (2017) led to GPT: a decoder-only transformer trained to predict the
next character. Here a 3-layer GPT (width 96, 4 heads, context 64, dropout 0.1) reads the TinyTalks
training conversations (`Q: ...` / `A: ...` lines) as one stream of characters and learns to
continue it. It is then asked every training question (`Q: <question>\\nA:`) and answers greedily,
and its loss on the validation conversations is compared with a character-bigram model (the best
one can do from the previous character alone). Finally it answers questions from the test split,
which it has never seen: expect fluent-looking guesses, not knowledge.
Criterion: at least 80% of training questions answered exactly, validation loss below the bigram
baseline, within 5 minutes. Needs modules 01-13.

Run:  python -m milestones.m05_transformer [--submission DIR] [--seed 0] [--epochs 2000]
(--epochs counts training steps of 32 windows each here.)
"""
from __future__ import annotations

import numpy as np

from milestones._common import main, parser, text_plot

REQUIRES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # the modules it needs (the manifest's [[milestone]] requires)
NUMBER = 5
WIDTH, LAYERS, HEADS, CONTEXT, BATCH, LEARNING_RATE, DROPOUT = 96, 3, 4, 64, 32, 3e-3, 0.1
EXACT_TARGET, TIME_LIMIT = 0.80, 300.0


def render(conversations) -> str:
    """Conversations as the text the model reads: Q/A lines, a blank line after each conversation."""
    return "".join("".join(f"Q: {q}\nA: {a}\n" for q, a in turns) + "\n" for turns in conversations)


def bigram_loss(train_ids: np.ndarray, val_ids: np.ndarray, vocab: int) -> float:
    """Cross-entropy (nats per character) of an add-one-smoothed character bigram model on validation."""
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log(probabilities[val_ids[:-1], val_ids[1:]]).mean())


def validation_loss(model, ids: np.ndarray) -> float:
    """Mean next-character cross-entropy over consecutive windows of the validation text."""
    from tinytorch import no_grad

    losses = []
    with no_grad():
        for start in range(0, len(ids) - CONTEXT - 1, CONTEXT):
            _, loss = model(ids[None, start:start + CONTEXT], ids[None, start + 1:start + CONTEXT + 1])
            losses.append(float(loss.data))
    return float(np.mean(losses))


def answer(model, tokenizer, question: str, limit: int = 48) -> str:
    """Greedy continuation of `Q: question\\nA:` up to the end of the line."""
    prompt = np.array([tokenizer.encode(f"Q: {question}\nA:")], dtype=np.int64)
    out = model.generate(prompt, limit, temperature=0)
    return tokenizer.decode(out[0, prompt.shape[1]:].tolist()).split("\n")[0].strip()


def exact_match(model, tokenizer, questions) -> float:
    """Fraction of (question, answer) pairs whose greedy answer is exactly the answer."""
    return float(np.mean([answer(model, tokenizer, q) == a for q, a in questions]))


def first_questions(conversations) -> list[tuple[str, str]]:
    """The opening (question, answer) of each conversation: what the model is asked."""
    return [turns[0] for turns in conversations]


def train(run, model, ids: np.ndarray, steps: int, batch: int = BATCH, learning_rate: float = LEARNING_RATE,
          seed: int = 0) -> None:
    """Adam on `batch` random windows of `ids` per step, the learning rate warmed up over the first
    100 steps (or tenth of the run, if shorter) and then decayed to zero along a cosine."""
    from tinytorch import Adam
    from tinytorch.core.training import clip_grad_norm

    context = model.max_seq_len
    optimizer = Adam(model.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    warmup = min(100, max(1, steps // 10))
    model.train()
    for step in range(1, steps + 1):
        optimizer.lr = learning_rate * min(1.0, step / warmup) * 0.5 * (1 + np.cos(np.pi * step / steps))
        starts = rng.integers(0, len(ids) - context - 1, batch)
        x = np.stack([ids[s:s + context] for s in starts])
        y = np.stack([ids[s + 1:s + context + 1] for s in starts])
        optimizer.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        clip_grad_norm(model.parameters(), 1.0)
        optimizer.step()
        if step % max(1, steps // 10) == 0 or step == steps:
            run.progress("GPT", step, steps, unit="step", loss=float(loss.data))
    model.eval()


def run(run) -> int:
    from datasets import load_tinytalks
    from tinytorch import enable_autograd
    from tinytorch.core.tokenization import CharTokenizer
    from tinytorch.core.transformer import GPT

    enable_autograd()
    train_talks, validation, test = (load_tinytalks(split) for split in ("train", "validation", "test"))
    tokenizer = CharTokenizer(render(train_talks) + render(validation) + render(test))
    ids = np.array(tokenizer.encode(render(train_talks)), dtype=np.int64)
    val_ids = np.array(tokenizer.encode(render(validation)), dtype=np.int64)
    steps = max(1, run.args.epochs // 10) if run.args.quick else run.args.epochs
    run.say(f"  {len(train_talks)} training conversations ({len(ids):,} characters, vocabulary "
            f"{tokenizer.vocab_size}); GPT D {WIDTH}, {LAYERS} layers, {HEADS} heads, context {CONTEXT}; "
            f"{steps} steps of {BATCH} windows")
    model = GPT(tokenizer.vocab_size, WIDTH, HEADS, LAYERS, CONTEXT, dropout=DROPOUT, seed=run.args.seed)
    train(run, model, ids, steps, seed=run.args.seed)
    val_loss, baseline = validation_loss(model, val_ids), bigram_loss(ids, val_ids, tokenizer.vocab_size)
    questions = first_questions(train_talks)
    if run.args.quick:
        questions = questions[:20]
    exact = exact_match(model, tokenizer, questions)
    run.say("\n  Training loss:\n" + text_plot(run.curves["GPT loss"], label="step"))
    run.say(f"\n  validation loss {val_loss:.3f} nats/char against the bigram baseline {baseline:.3f}")
    run.say(f"  exact answers to {len(questions)} training questions: {exact:.1%}")
    run.say("\n  Sample dialogues (training questions, then unseen test questions):")
    for q, a in questions[:3] + first_questions(test[:4]):
        run.say(f"    Q: {q}\n    A: {answer(model, tokenizer, q)}   (reference: {a})")
    in_time = run.elapsed() <= TIME_LIMIT
    metrics = {"exact_match": exact, "questions": len(questions), "validation_loss": val_loss,
               "bigram_validation_loss": baseline, "steps": steps, "within_time_limit": in_time,
               "parameters": model.num_parameters()}
    passed = exact >= EXACT_TARGET and val_loss < baseline and in_time
    return run.finish(f">= {EXACT_TARGET:.0%} exact answers on training questions, validation loss below the "
                      f"character bigram, within {TIME_LIMIT:.0f} s", passed, metrics)


def build_parser():
    return parser(NUMBER, __doc__.splitlines()[0], epochs=2000)


if __name__ == "__main__":
    raise SystemExit(main(NUMBER, build_parser, run))
