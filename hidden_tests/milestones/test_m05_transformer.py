"""Milestone 5 (2017): a character-level GPT learns a handful of TinyTalks conversations by heart."""
import numpy as np
import pytest

from hidden_tests.milestones.bounded import program, quiet_run

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)

# Bounded: 8 conversations (331 characters), a 2-layer GPT of width 32, 300 steps of 16 windows. On the
# reference, seeds 0-3 answer 75-100% of the 8 questions exactly.
CONVERSATIONS, WIDTH, LAYERS, HEADS, CONTEXT, STEPS, BATCH, LEARNING_RATE = 8, 32, 2, 2, 32, 300, 16, 0.01
EXACT_TARGET = 0.5


@pytest.mark.points(4)
def test_gpt_memorizes_a_few_conversations_and_answers_them_greedily(tmp_path):
    from datasets import load_tinytalks
    from tinytorch import enable_autograd
    from tinytorch.core.tokenization import CharTokenizer
    from tinytorch.core.transformer import GPT

    milestone = program(5)
    enable_autograd()
    conversations = load_tinytalks("train")[:CONVERSATIONS]
    text = milestone.render(conversations)
    tokenizer = CharTokenizer(text)
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    model = GPT(tokenizer.vocab_size, WIDTH, HEADS, LAYERS, CONTEXT, seed=0)
    run = quiet_run(5, tmp_path)
    milestone.train(run, model, ids, STEPS, batch=BATCH, learning_rate=LEARNING_RATE, seed=0)
    losses = run.curves["GPT loss"]
    questions = milestone.first_questions(conversations)
    exact = milestone.exact_match(model, tokenizer, questions)
    assert losses[-1] < 0.5 * losses[0], f"training loss should fall by half or more; by tenths of the run: {losses}"
    assert exact >= EXACT_TARGET, (
        f"after {STEPS} steps on {CONVERSATIONS} conversations the GPT should answer at least {EXACT_TARGET:.0%} of their "
        f"questions exactly; it answered {exact:.0%} (loss by tenths of the run: {[round(v, 3) for v in losses]})")
